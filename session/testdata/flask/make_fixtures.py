#!/usr/bin/python3
"""Writes the bytes Flask-Session 0.8 puts in its store and in its cookie,
for session/flask_test.go, which then needs no Python.

Run with Debian's interpreter, which sees Debian's packages:

    apt-get install -y python3-msgpack python3-itsdangerous
    /usr/bin/python3 session/testdata/flask/make_fixtures.py

What Flask-Session 0.8 does, and what this script does in its place
(src/flask_session/base.py and redis/redis.py):

- open_session() on a request without a cookie creates
  ServerSideSession(sid=secrets.token_urlsafe(32), permanent=True), whose
  dict is {"_permanent": True}; the view then adds its keys in order.
  Here: a dict built in that order.
- save_session() -> _upsert_session() stores
  msgspec.msgpack.Encoder().encode(dict(session)) under
  key_prefix + sid ("session:" + sid), with EX = the lifetime in seconds.
  Here: msgpack.packb(dict(session)), which encodes str, bytes, int,
  float, bool, None, list, tuple and dict exactly as msgspec does (the
  smallest int encoding, float64, str8 and bin types).
- With SESSION_USE_SIGNER the cookie is
  Signer(app.secret_key, salt="flask-session", key_derivation="hmac").sign(sid),
  itsdangerous's HMAC-SHA1 signer. Here: that very call.
"""

import importlib.metadata
import json
import os
import secrets

import itsdangerous
import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "flask-secret-key-for-the-fixtures"


def flask_signer(secret):
    return itsdangerous.Signer(secret, salt="flask-session", key_derivation="hmac")


def flask_value(session):
    return msgpack.packb(session, use_bin_type=True)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    # Fixed ids, drawn once the way Flask-Session draws them, so that
    # re-running the script gives the same files.
    sid = "Jb7r1Hh0oZ0e8QhYp3m5b2m1l8Rj0bXg9Wc4Xy2Fq6E"
    assert len(sid) == len(secrets.token_urlsafe(32)) == 43

    # A session as a Flask app with Flask-Login and Flask-WTF leaves it:
    # "_permanent" first (set by open_session), then the view's keys.
    session = {
        "_permanent": True,
        "_user_id": "1",
        "_fresh": True,
        "_id": "5f1c9e6b0c4a" * 4,
        "csrf_token": "c3f1e4b2a9d8",
        "_flashes": [("message", "Logged in")],
        "cart": [1, 2, 3],
        "prefs": {"theme": "dark", "size": 12},
        "ratio": 0.25,
        "big": 2**40,
        "neg": -200,
        "blob": b"\x00\x01\xfe",
        "nothing": None,
        "name": "Zoë",
    }
    write("session.msgpack", flask_value(session))

    # A session that is not permanent, as SESSION_PERMANENT=False leaves it.
    write("not_permanent.msgpack", flask_value({"_permanent": False, "n": 1}))

    # What Flask stores for a session whose keys were set in sorted order:
    # the Go side writes keys sorted, so for the same data its bytes must be
    # these exactly.
    sorted_session = {
        "_permanent": True,
        "big": 2**40,
        "blob": b"\x00\x01\xfe",
        "cart": [1, 2, 3],
        "name": "Zoë",
        "neg": -200,
        "nothing": None,
        "prefs": {"size": 12, "theme": "dark"},
        "ratio": 0.25,
        "user_id": 42,
    }
    assert list(sorted_session) == sorted(sorted_session)
    write("sorted.msgpack", flask_value(sorted_session))

    signer = flask_signer(SECRET_KEY)
    ids = [
        sid,
        "0fQ-mR4s_WzT1kYx7pLc9hN2vB5dJ8aE3uG6iO0qXyZ",
        "___________________________________________",
        "-------------------------------------------",
    ]
    meta = {
        "secret_key": SECRET_KEY,
        "sid": sid,
        "store_key": "session:" + sid,
        "cookie": signer.sign(sid).decode(),
        "signed": {i: signer.sign(i).decode() for i in ids},
        "vector": {
            "secret": "secret-key",
            "id": "abc",
            "cookie": flask_signer("secret-key").sign("abc").decode(),
        },
        "versions": {
            "msgpack": importlib.metadata.version("msgpack"),
            "itsdangerous": importlib.metadata.version("itsdangerous"),
        },
    }
    assert meta["vector"]["cookie"] == "abc.qHdohP2AdD3tm4fFdpaLQ-hcXUE"
    with open(os.path.join(HERE, "fixtures.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()

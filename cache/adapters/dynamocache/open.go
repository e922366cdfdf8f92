package dynamocache

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/urlparam"
)

// Importing the package registers the scheme "dynamodb" with cache.Open:
//
//	dynamodb://table[?region=us-east-1&endpoint=http://127.0.0.1:8000&prefix=app:&create_table=true]
//
// The host is the table's name, as DynamoDB spells table names: 3 to 255
// letters, digits, '_', '-' and '.', case-sensitive. The parameters are:
// region, the AWS region (default: the SDK's, from AWS_REGION or the
// shared config file); endpoint, the http(s) URL of the service, for
// DynamoDB Local or dynalite (default: AWS's endpoint for the region);
// prefix, WithPrefix; create_table=true, WithCreateTable; and timeout
// (such as 500ms), WithTimeout. Anything else is an error. Credentials,
// retries and the rest come from the SDK's default configuration
// (config.LoadDefaultConfig: the environment, the shared config and
// credentials files, SSO, the instance's role), never from the URL.
//
// Open checks within ctx that the table exists with the key schema the
// adapter needs, creating it first with create_table=true. The client it
// makes holds nothing that needs closing: Close marks the cache closed,
// and the client's idle HTTP connections close on their own.
func init() { cache.Register("dynamodb", open) }

// tableName is how DynamoDB spells a table name.
var tableName = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)

func open(ctx context.Context, u *url.URL) (cache.Adapter, error) {
	const want = "want dynamodb://table?region=...&endpoint=..."
	switch {
	case u.Opaque != "" || u.Host == "" || (u.Path != "" && u.Path != "/"):
		return nil, urlparam.Errorf("%s", want)
	case u.User != nil:
		return nil, urlparam.Errorf("a dynamodb URL carries no credentials: the AWS SDK finds them (environment, shared files, instance role)")
	case !tableName.MatchString(u.Host):
		return nil, urlparam.Errorf("table name %q: want 3 to 255 letters, digits, '_', '-' or '.'", u.Host)
	}
	p := urlparam.New(u)
	region := p.String("region", "")
	endpoint := p.String("endpoint", "")
	prefix := p.String("prefix", "")
	opts := []Option{WithPrefix(prefix)}
	if p.Bool("create_table", false) {
		opts = append(opts, WithCreateTable())
	}
	opts = append(opts, WithTimeout(p.Timeout(calltimeout.Default)))
	if err := p.Done(); err != nil {
		return nil, err
	}
	if endpoint != "" {
		e, err := url.Parse(endpoint)
		if err != nil {
			return nil, urlparam.Errorf("parameter endpoint is not a URL: want an http(s) URL such as http://127.0.0.1:8000")
		}
		if e.Scheme != "http" && e.Scheme != "https" || e.Host == "" {
			return nil, urlparam.Errorf("parameter endpoint=%q: want an http(s) URL such as http://127.0.0.1:8000", e.Redacted())
		}
		if e.User != nil || e.RawQuery != "" || e.Fragment != "" {
			// The SDK reads the scheme, host and path of an endpoint;
			// credentials come from its own chain.
			return nil, urlparam.Errorf("parameter endpoint: want an http(s) URL without a user part, query or fragment")
		}
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("%w: %w", cache.ErrInvalidURL, err)
	}
	var load []func(*awsconfig.LoadOptions) error
	if region != "" {
		load = append(load, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("dynamocache: load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, urlparam.Errorf("no region: give the region parameter or set AWS_REGION")
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	c, err := New(ctx, client, u.Host, opts...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

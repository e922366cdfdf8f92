package sqlcache

import "strings"

// The parameters a URL may pass on, per driver and per server. A parameter
// that is in none of these lists is an error before Open connects: the
// drivers send what they do not know to the server, which refuses it only
// once connected, and a typo must not look like a connection error.

// pgxParams are the parameters pgx v5 (github.com/jackc/pgx/v5/stdlib)
// reads itself, as pgconn.ParseConfig and pgx.ParseConfig do; it sends
// every other parameter to the server as a setting.
var pgxParams = words(`
	host port database dbname user password passfile connect_timeout
	sslmode sslkey sslcert sslcertmode sslrootcert sslnegotiation sslpassword sslsni
	krbspn krbsrvname target_session_attrs service servicefile
	min_protocol_version max_protocol_version channel_binding require_auth
	statement_cache_capacity description_cache_capacity default_query_exec_mode`)

// libpqParams are the parameters lib/pq (github.com/lib/pq, v1.10) reads
// itself (user and dbname it sends as the user and database of the
// session); it sends every other parameter to the server as a setting.
var libpqParams = words(`
	host port user dbname password sslmode sslcert sslkey sslrootcert sslinline sslsni
	fallback_application_name connect_timeout disable_prepared_binary_result
	binary_parameters krbsrvname krbspn`)

// postgresSettings are the settings of PostgreSQL 15 that a session may set
// when it starts, in lower case (PostgreSQL reads their names in any case):
// those of pg_settings whose context is user, superuser, backend or
// superuser-backend. options, which PostgreSQL reads as command-line
// options ("-c name=value"), is passed as it is: the server alone reads
// what it holds. A name with a dot is a custom or extension setting, which
// PostgreSQL accepts under any name, so it is passed on too.
var postgresSettings = words(`options
	allow_in_place_tablespaces allow_system_table_mods application_name array_nulls
	backend_flush_after backslash_quote backtrace_functions bytea_output check_function_bodies
	client_connection_check_interval client_encoding client_min_messages commit_delay
	commit_siblings compute_query_id constraint_exclusion cpu_index_tuple_cost cpu_operator_cost
	cpu_tuple_cost cursor_tuple_fraction datestyle deadlock_timeout debug_discard_caches
	debug_pretty_print debug_print_parse debug_print_plan debug_print_rewritten
	default_statistics_target default_table_access_method default_tablespace
	default_text_search_config default_toast_compression default_transaction_deferrable
	default_transaction_isolation default_transaction_read_only dynamic_library_path
	effective_cache_size effective_io_concurrency enable_async_append enable_bitmapscan
	enable_gathermerge enable_hashagg enable_hashjoin enable_incremental_sort enable_indexonlyscan
	enable_indexscan enable_material enable_memoize enable_mergejoin enable_nestloop
	enable_parallel_append enable_parallel_hash enable_partition_pruning
	enable_partitionwise_aggregate enable_partitionwise_join enable_seqscan enable_sort
	enable_tidscan escape_string_warning exit_on_error extension_destdir extra_float_digits
	force_parallel_mode from_collapse_limit geqo geqo_effort geqo_generations geqo_pool_size
	geqo_seed geqo_selection_bias geqo_threshold gin_fuzzy_search_limit gin_pending_list_limit
	hash_mem_multiplier idle_in_transaction_session_timeout idle_session_timeout
	ignore_checksum_failure ignore_system_indexes intervalstyle jit jit_above_cost
	jit_debugging_support jit_dump_bitcode jit_expressions jit_inline_above_cost
	jit_optimize_above_cost jit_profiling_support jit_tuple_deforming join_collapse_limit
	lc_messages lc_monetary lc_numeric lc_time lo_compat_privileges local_preload_libraries
	lock_timeout log_connections log_disconnections log_duration log_error_verbosity
	log_executor_stats log_lock_waits log_min_duration_sample log_min_duration_statement
	log_min_error_statement log_min_messages log_parameter_max_length
	log_parameter_max_length_on_error log_parser_stats log_planner_stats log_replication_commands
	log_statement log_statement_sample_rate log_statement_stats log_temp_files
	log_transaction_sample_rate logical_decoding_work_mem maintenance_io_concurrency
	maintenance_work_mem max_parallel_maintenance_workers max_parallel_workers
	max_parallel_workers_per_gather max_stack_depth min_parallel_index_scan_size
	min_parallel_table_scan_size parallel_leader_participation parallel_setup_cost
	parallel_tuple_cost password_encryption plan_cache_mode post_auth_delay quote_all_identifiers
	random_page_cost recursive_worktable_factor restrict_nonsystem_relation_kind row_security
	search_path seq_page_cost session_preload_libraries session_replication_role
	standard_conforming_strings statement_timeout stats_fetch_consistency synchronize_seqscans
	synchronous_commit tcp_keepalives_count tcp_keepalives_idle tcp_keepalives_interval
	tcp_user_timeout temp_buffers temp_file_limit temp_tablespaces timezone timezone_abbreviations
	trace_notify trace_sort track_activities track_counts track_functions track_io_timing
	track_wal_io_timing transaction_deferrable transaction_isolation transaction_read_only
	transform_null_equals update_process_title vacuum_cost_delay vacuum_cost_limit
	vacuum_cost_page_dirty vacuum_cost_page_hit vacuum_cost_page_miss vacuum_failsafe_age
	vacuum_freeze_min_age vacuum_freeze_table_age vacuum_multixact_failsafe_age
	vacuum_multixact_freeze_min_age vacuum_multixact_freeze_table_age wal_compression
	wal_consistency_checking wal_init_zero wal_recycle wal_sender_timeout wal_skip_threshold
	work_mem xmlbinary xmloption zero_damaged_pages`)

// mysqlParams are the parameters go-sql-driver/mysql v1.10 reads itself,
// as its ParseDSN does; it sends every other parameter to the server as
// "SET name = value" once connected. Its parameter strict is left out:
// ParseDSN panics on it; so is timeout, which in a URL is sqlcache's own
// (WithTimeout, which also bounds connecting).
var mysqlParams = words(`
	allowAllFiles allowCleartextPasswords allowFallbackToPlaintext allowNativePasswords
	allowOldPasswords charset checkConnLiveness clientFoundRows collation columnsWithAlias
	compress connectionAttributes interpolateParams loc maxAllowedPacket multiStatements
	parseTime readTimeout rejectReadOnly serverPubKey timeTruncate tls writeTimeout`)

// mysqlVariables are the system variables a session may set, in lower case
// (MySQL and MariaDB read their names in any case): those of MariaDB 10.11
// whose scope is SESSION or SESSION ONLY and that are not read-only, and
// mysqlOnlyVariables.
var mysqlVariables = append(words(`
	alter_algorithm analyze_max_length analyze_sample_percentage aria_repair_threads
	aria_sort_buffer_size aria_stats_method autocommit auto_increment_increment
	auto_increment_offset big_tables binlog_alter_two_phase binlog_annotate_row_events
	binlog_direct_non_transactional_updates binlog_format binlog_row_image bulk_insert_buffer_size
	character_set_client character_set_connection character_set_database character_set_filesystem
	character_set_results character_set_server check_constraint_checks collation_connection
	collation_database collation_server column_compression_threshold column_compression_zlib_level
	column_compression_zlib_strategy column_compression_zlib_wrap completion_type
	deadlock_search_depth_long deadlock_search_depth_short deadlock_timeout_long
	deadlock_timeout_short default_master_connection default_regex_flags default_storage_engine
	default_tmp_storage_engine default_week_format div_precision_increment enforce_storage_engine
	eq_range_index_dive_limit expensive_subquery_limit explicit_defaults_for_timestamp
	foreign_key_checks group_concat_max_len gtid_domain_id gtid_seq_no histogram_size
	histogram_type identity idle_readonly_transaction_timeout idle_transaction_timeout
	idle_write_transaction_timeout innodb_compression_default innodb_default_encryption_key_id
	innodb_ft_enable_stopword innodb_ft_user_stopword_table innodb_lock_wait_timeout
	innodb_snapshot_isolation innodb_strict_mode innodb_table_locks innodb_tmpdir insert_id
	interactive_timeout in_predicate_conversion_threshold join_buffer_size join_buffer_space_limit
	join_cache_level keep_files_on_create last_insert_id lc_messages lc_time_names
	lock_wait_timeout log_disabled_statements log_queries_not_using_indexes
	log_slow_admin_statements log_slow_disabled_statements log_slow_filter log_slow_max_warnings
	log_slow_min_examined_row_limit log_slow_query log_slow_query_time log_slow_rate_limit
	log_slow_slave_statements log_slow_verbosity log_warnings long_query_time low_priority_updates
	max_allowed_packet max_delayed_threads max_error_count max_heap_table_size
	max_insert_delayed_threads max_join_size max_length_for_sort_data max_recursive_iterations
	max_relay_log_size max_rowid_filter_size max_seeks_for_key max_session_mem_used max_sort_length
	max_sp_recursion_depth max_statement_time max_tmp_tables max_user_connections
	min_examined_row_limit mrr_buffer_size myisam_repair_threads myisam_sort_buffer_size
	myisam_stats_method net_buffer_length net_read_timeout net_retry_count net_write_timeout
	note_verbosity old old_alter_table old_mode old_passwords optimizer_adjust_secondary_key_costs
	optimizer_extra_pruning_depth optimizer_join_limit_pref_ratio optimizer_max_sel_args
	optimizer_max_sel_arg_weight optimizer_prune_level optimizer_search_depth
	optimizer_selectivity_sampling_limit optimizer_switch optimizer_trace
	optimizer_trace_max_mem_size optimizer_use_condition_selectivity preload_buffer_size profiling
	profiling_history_size progress_report_time pseudo_slave_mode pseudo_thread_id
	query_alloc_block_size query_cache_strip_comments query_cache_type query_cache_wlock_invalidate
	query_prealloc_size rand_seed1 rand_seed2 range_alloc_block_size read_buffer_size
	read_rnd_buffer_size rowid_merge_buff_size server_id session_track_schema
	session_track_state_change session_track_system_variables session_track_transaction_info
	skip_parallel_replication skip_replication slow_query_log sort_buffer_size sql_auto_is_null
	sql_big_selects sql_buffer_result sql_if_exists sql_log_bin sql_log_off sql_mode sql_notes
	sql_quote_show_create sql_safe_updates sql_select_limit sql_slave_skip_counter sql_warnings
	standard_compliant_cte storage_engine system_versioning_alter_history system_versioning_asof
	system_versioning_insert_history tcp_nodelay thread_pool_priority timestamp time_zone
	tmp_disk_table_size tmp_memory_table_size tmp_table_size transaction_alloc_block_size
	transaction_prealloc_size tx_isolation tx_read_only unique_checks updatable_views_with_limit
	use_stat_tables wait_timeout wsrep_causal_reads wsrep_dirty_reads wsrep_gtid_seq_no wsrep_on
	wsrep_osu_method wsrep_retry_autocommit wsrep_sync_wait wsrep_trx_fragment_size
	wsrep_trx_fragment_unit`), mysqlOnlyVariables...)

// mysqlOnlyVariables are session variables of MySQL 8 that MariaDB lacks.
var mysqlOnlyVariables = words(`
	cte_max_recursion_depth information_schema_stats_expiry internal_tmp_mem_storage_engine
	max_execution_time resultset_metadata sql_generate_invisible_primary_key
	sql_require_primary_key transaction_isolation transaction_read_only
	windowing_use_high_precision`)

// moderncParams are the parameters modernc.org/sqlite v1.62 reads itself.
var moderncParams = words(`
	_busy_timeout _timeout _auto_vacuum _vacuum _foreign_keys _fk _journal_mode _journal
	_synchronous _sync _query_only _time_format _time_integer_format _timezone _txlock
	_inttotime _texttotime _pragma _dqs _defensive _error_rc`)

// mattnParams are the parameters mattn/go-sqlite3 v1.14 reads itself.
var mattnParams = words(`
	_auth _auth_user _auth_pass _auth_crypt _auth_salt _loc _mutex _txlock
	_auto_vacuum _vacuum _busy_timeout _timeout _case_sensitive_like _cslike
	_defer_foreign_keys _defer_fk _foreign_keys _fk _ignore_check_constraints
	_journal_mode _journal _locking_mode _locking _query_only _recursive_triggers _rt
	_secure_delete _synchronous _sync _writable_schema _cache_size`)

// sqliteURIParams are the parameters SQLite itself reads from a file: URI;
// vfs, which names a VFS, the drivers read too.
var sqliteURIParams = words(`cache immutable mode modeof nolock psow vfs`)

func words(s string) []string { return strings.Fields(s) }

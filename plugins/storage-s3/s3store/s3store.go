// Package s3store is an nvm-node storage backend on Amazon S3 or an
// S3-compatible server (MinIO, Ceph RGW, versitygw...), built on
// aws-sdk-go-v2. All objects live in one bucket, optionally under a prefix.
//
// Put streams an object of unknown length: up to one part it is a single
// PutObject, beyond that a multipart upload holding at most two parts in
// memory, aborted on any failure so nothing half-written remains. Get
// honours ranges with HTTP Range requests. The backend presigns GET and PUT
// URLs (storage.Presigner).
package s3store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Name is the backend's name: the plugin id is "storage.s3".
const Name = "s3"

// Version is this plugin's release.
const Version = "v0.1.0"

// Backend is the S3 storage backend. Create it with New; it is usable
// after Configure.
type Backend struct {
	log *slog.Logger

	mu     sync.Mutex // serialises Configure and Close
	state  atomic.Pointer[state]
	closed atomic.Bool
}

// state is what Configure sets up; it never changes afterwards.
type state struct {
	cfg     Config
	log     *slog.Logger
	client  *s3.Client
	presign *s3.PresignClient
	parts   sync.Pool // *[]byte of cfg.PartSize

	ifAbsent ifAbsentProbe
}

var (
	_ storage.Backend   = (*Backend)(nil)
	_ storage.Presigner = (*Backend)(nil)
)

// New returns an unconfigured backend logging to log (nil means
// slog.Default()).
func New(log *slog.Logger) *Backend {
	if log == nil {
		log = slog.Default()
	}
	return &Backend{log: log}
}

// Info describes the backend. CapIfAbsent is declared because S3 and the
// common compatibles honour If-None-Match on writes; on a server found to
// ignore it, IfAbsent Puts fail with errors.ErrUnsupported instead of
// overwriting (see ifAbsentProbe).
func (b *Backend) Info(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Kind: plugin.KindStorage, Name: Name, Version: Version, APIVersion: storage.APIVersion,
		Capabilities: []plugin.Capability{
			storage.CapRange, storage.CapWrite, storage.CapList, storage.CapIfAbsent,
			storage.CapContentType, storage.CapPresign,
		},
	}, nil
}

// Configure parses the configuration, builds the S3 client and checks the
// bucket, creating it when create_bucket is set.
func (b *Backend) Configure(ctx context.Context, raw plugin.Config) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return plugin.ErrClosed
	}
	if b.state.Load() != nil {
		return fmt.Errorf("%w: already configured", plugin.ErrInvalidConfig)
	}
	cfg, err := parseConfig(raw)
	if err != nil {
		return err
	}
	client, err := newClient(ctx, cfg, b.log)
	if err != nil {
		return err
	}
	st := &state{cfg: cfg, log: b.log, client: client}
	st.parts.New = func() any { b := make([]byte, cfg.PartSize); return &b }
	// A presigned URL is used by a plain HTTP client that sends no
	// checksum headers, so none may be signed into it.
	st.presign = s3.NewPresignClient(client, func(o *s3.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
	})
	if err := st.checkBucket(ctx); err != nil {
		return err
	}
	b.state.Store(st)
	b.log.Info("s3 storage configured", "bucket", cfg.Bucket, "prefix", cfg.Prefix, "endpoint", cfg.Endpoint, "region", client.Options().Region)
	return nil
}

func newClient(ctx context.Context, cfg Config, log *slog.Logger) (*s3.Client, error) {
	// The SDK's own notes (e.g. "response has no supported checksum")
	// go to our log at debug level, warnings as warnings, instead of its
	// default of printing to stderr.
	sdkLog := logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, "aws sdk: "+fmt.Sprintf(format, v...))
	})
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithLogger(sdkLog)}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: loading the AWS configuration: %w", plugin.ErrInvalidConfig, err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	return s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	}), nil
}

// checkBucket makes sure the bucket exists. A refused HeadBucket is only
// logged: credentials scoped to objects under a prefix may lack the
// bucket-level permission yet serve every call this backend makes.
func (st *state) checkBucket(ctx context.Context) error {
	bucket := st.cfg.Bucket
	_, err := st.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	switch code := httpStatus(err); {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case code == http.StatusForbidden:
		st.log.Warn("cannot check the bucket (access denied); continuing, object calls will tell", "bucket", bucket)
		return nil
	case code != http.StatusNotFound:
		return fmt.Errorf("checking bucket %q: %w", bucket, mapErr(err))
	case !st.cfg.CreateBucket:
		return fmt.Errorf("%w: bucket %q does not exist (set create_bucket to create it)", plugin.ErrInvalidConfig, bucket)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if r := st.client.Options().Region; r != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(r)}
	}
	if _, err := st.client.CreateBucket(ctx, in); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		if errors.As(err, &owned) {
			return nil // created meanwhile by another instance
		}
		return fmt.Errorf("creating bucket %q: %w", bucket, mapErr(err))
	}
	st.log.Info("created bucket", "bucket", bucket)
	return nil
}

// Close releases the backend; calls made afterwards fail with
// plugin.ErrClosed. In-flight calls finish.
func (b *Backend) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed.Store(true)
	return nil
}

// ready returns the configured state, or the error for a call on a closed
// or unconfigured backend.
func (b *Backend) ready(op, key string) (*state, error) {
	if b.closed.Load() {
		return nil, &storage.Error{Op: op, Key: key, Err: plugin.ErrClosed}
	}
	st := b.state.Load()
	if st == nil {
		return nil, &storage.Error{Op: op, Key: key, Err: plugin.ErrNotConfigured}
	}
	return st, nil
}

// readyKey is ready plus key validation and a context check.
func (b *Backend) readyKey(ctx context.Context, op, key string) (*state, error) {
	st, err := b.ready(op, key)
	if err != nil {
		return nil, err
	}
	if !storage.ValidKey(key) {
		return nil, &storage.Error{Op: op, Key: key, Err: storage.ErrInvalidKey}
	}
	if err := ctx.Err(); err != nil {
		return nil, &storage.Error{Op: op, Key: key, Err: err}
	}
	return st, nil
}

// object is the bucket key of a storage key.
func (st *state) object(key string) *string { return aws.String(st.cfg.Prefix + key) }

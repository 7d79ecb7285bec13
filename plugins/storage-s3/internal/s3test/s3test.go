// Package s3test runs a real S3-compatible server, versitygw, for the
// plugin's tests: each call to Start launches one on a free loopback port
// over a temporary directory and stops it when the test ends.
//
// versitygw is installed with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// Without it, Start skips the test, or fails it when CI=true.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Test credentials of the servers Start runs.
const (
	AccessKey = "nvmtestaccess"
	SecretKey = "nvmtestsecret-not-a-real-secret"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's base URL, "http://127.0.0.1:PORT".
	Endpoint string
	// Dir holds the buckets, one directory each.
	Dir string
}

// Binary returns the versitygw binary's path, from PATH or the Go bin
// directory, or "" when it is not installed.
func Binary() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for dir := range strings.SplitSeq(gopath, string(os.PathListSeparator)) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// Require skips (or, under CI, fails) t when versitygw is missing, and
// returns its path.
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "versitygw not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// syncBuffer collects the server's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 1<<20 {
		s.b.Write(p)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs a versitygw until t ends and waits until it answers.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Require(t)
	dir := t.TempDir()
	// A port chosen by the kernel, released for the server: a small race
	// with other listeners, retried below.
	var lastErr error
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		out := &syncBuffer{}
		cmd := exec.Command(bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey, "posix", dir)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting versitygw: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		endpoint := "http://" + addr
		if err := waitReady(endpoint, exited); err != nil {
			stop()
			lastErr = fmt.Errorf("%w\nversitygw output:\n%s", err, out.String())
			continue
		}
		t.Cleanup(stop)
		return &Server{Endpoint: endpoint, Dir: dir}
	}
	t.Fatalf("versitygw did not start: %v", lastErr)
	return nil
}

// waitReady polls the endpoint until it answers any HTTP status.
func waitReady(endpoint string, exited <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited")
		default:
		}
		resp, err := client.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw at %s did not answer within 20s", endpoint)
}

// Client returns a plain S3 client for the server, to inspect what the
// backend left behind.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
}

// Config returns the plugin configuration for bucket and prefix on this
// server, with the test credentials and create_bucket set.
func (s *Server) Config(bucket, prefix string, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return fmt.Sprintf(`{"endpoint":%q,"bucket":%q,"prefix":%q,"path_style":true,"access_key_id":%q,"secret_access_key":%q,"create_bucket":true%s}`,
		s.Endpoint, bucket, prefix, AccessKey, SecretKey, extra)
}

// Uploads lists the multipart uploads in progress in bucket under prefix.
func (s *Server) Uploads(ctx context.Context, bucket, prefix string) ([]string, error) {
	out, err := s.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys, nil
}

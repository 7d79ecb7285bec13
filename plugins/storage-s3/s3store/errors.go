package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"

	"github.com/nvm-node/nvm-node/sdk/storage"
)

// httpStatus returns the HTTP status of a failed S3 call, or 0.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorCode returns the S3 error code ("NoSuchKey"...), or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// mapErr turns an S3 error into one wrapping the storage sentinel it
// means, keeping the S3 error's text. S3 messages carry no secret: the
// signature and secret key are never echoed.
func mapErr(err error) error {
	var sentinel error
	switch code := errorCode(err); {
	case code == "NoSuchKey" || code == "NotFound":
		sentinel = storage.ErrNotFound
	case code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
		code == "ExpiredToken" || code == "InvalidToken" || code == "AllAccessDisabled":
		sentinel = storage.ErrPermission
	case code == "InvalidRange":
		sentinel = storage.ErrInvalidRange
	case code == "KeyTooLongError":
		sentinel = storage.ErrInvalidKey
	case code == "NoSuchBucket":
		return fmt.Errorf("bucket does not exist: %w", err)
	default:
		switch httpStatus(err) {
		case http.StatusNotFound:
			sentinel = storage.ErrNotFound
		case http.StatusForbidden, http.StatusUnauthorized:
			sentinel = storage.ErrPermission
		case http.StatusRequestedRangeNotSatisfiable:
			sentinel = storage.ErrInvalidRange
		}
	}
	if sentinel == nil {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// opErr wraps the error of a failed call as a *storage.Error. When ctx is
// done, the context's error is what the caller gets (wrapped), whatever
// the SDK made of the cancellation.
func opErr(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return &storage.Error{Op: op, Key: key, Err: cerr}
	}
	return &storage.Error{Op: op, Key: key, Err: mapErr(err)}
}

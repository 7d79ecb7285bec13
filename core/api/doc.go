// Package api is the node's REST surface: the chi router, one file per
// resource, the middleware, the single mapping from errors to HTTP answers,
// and the embedded OpenAPI document that describes every route.
//
// Error bodies keep the reference node's shape,
// {"statusCode":<n>,"message":<string|string[]>,"error":"<reason>"}, because
// the official clients parse them.
package api

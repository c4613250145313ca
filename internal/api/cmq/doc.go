// Package cmq serves the Tencent CMQ "Action API" (API 2.0) on /v2/index.php
// and /: GET or POST, parameters as a URL-encoded form whatever the
// Content-Type, requests signed with HmacSHA1 or HmacSHA256 over the
// parameters, and every answer HTTP 200 with a JSON envelope
// {"code":…,"message":"(module)text","requestId":…} plus the action's fields.
//
// The package parses and checks parameters (which are CMQ's own names, limits
// and error codes) and calls the topic and queue services, whose errors it
// maps to CMQ codes in one table (errors.go).
package cmq

package breakerbox

import (
	"net/http"
	"reflect"
)

// httpStatusOf finds the HTTP status an error carries, along its whole chain
// (errors.Unwrap, joined errors too), without depending on any SDK:
//
//   - an *HTTPError;
//   - an error with a StatusCode() int method;
//   - a struct (or pointer to one) with an int field StatusCode, and
//     optionally a *http.Response field Response, the shape of the errors of
//     the OpenAI and Anthropic Go SDKs (openai.Error, anthropic.Error).
//
// header is the response's headers when the error has them (for the
// rate-limit hint), else nil.
func httpStatusOf(err error) (code int, header http.Header, ok bool) {
	walk(err, func(e error) bool {
		code, header, ok = statusOfOne(e)
		return ok
	})
	return code, header, ok
}

func statusOfOne(e error) (int, http.Header, bool) {
	if h, ok := e.(*HTTPError); ok {
		return h.StatusCode, nil, true
	}
	if s, ok := e.(interface{ StatusCode() int }); ok {
		return s.StatusCode(), nil, true
	}
	v := reflect.ValueOf(e)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return 0, nil, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return 0, nil, false
	}
	f := v.FieldByName("StatusCode")
	if !f.IsValid() || !f.CanInt() {
		return 0, nil, false
	}
	var header http.Header
	if r := v.FieldByName("Response"); r.IsValid() && r.Type() == reflect.TypeFor[*http.Response]() && !r.IsNil() {
		header = r.Interface().(*http.Response).Header
	}
	return int(f.Int()), header, true
}

// walk visits err and everything it wraps, depth first, until visit returns true.
func walk(err error, visit func(error) bool) bool {
	if err == nil {
		return false
	}
	if visit(err) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return walk(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if walk(e, visit) {
				return true
			}
		}
	}
	return false
}

package conf

import (
	"errors"
	"fmt"
)

// Sentinels, matched with errors.Is on any error Load, Parse or Validate return (a list of
// problems matches each of its members' sentinels).
var (
	// ErrSyntax means the file is not YAML.
	ErrSyntax = errors.New("conf: syntax error")
	// ErrUnknownKey means a key that is not in the schema, in a file or a --set.
	ErrUnknownKey = errors.New("conf: unknown key")
	// ErrType means a value of the wrong type for its key (a string where a number goes...).
	ErrType = errors.New("conf: wrong type")
	// ErrInvalid means a value of the right type that Validate refuses.
	ErrInvalid = errors.New("conf: invalid value")
)

// Error is one problem of a configuration, with where it comes from.
type Error struct {
	// Pos is where the value was given: "FILE:LINE:COL", "--set KEY=VALUE", or "" for a default.
	Pos string
	// Path is the key the problem is about, e.g. "train.steps"; "" when it is about no key
	// (a syntax error).
	Path string
	// Msg describes the problem, naming the key, e.g. `train.steps must be an integer`.
	Msg string
	// Err is the sentinel of the kind of problem: ErrSyntax, ErrUnknownKey, ErrType or ErrInvalid.
	Err error
}

// Error returns "POS: MSG", or MSG when the position is unknown.
func (e *Error) Error() string {
	if e.Pos == "" {
		return e.Msg
	}
	return e.Pos + ": " + e.Msg
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// problems collects the errors of one decoding or validation.
type problems []error

func (p *problems) add(pos, path string, sentinel error, format string, args ...any) {
	*p = append(*p, &Error{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...), Err: sentinel})
}

// err returns nil, the only problem, or all of them joined (one per line).
func (p problems) err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	return errors.Join(p...)
}

// Problems returns the individual problems in err: the *Error values it holds, one per line of
// err.Error(). It returns nil for nil, and a one-element list for an error that is not a list.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

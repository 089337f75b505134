// Package ringkey is the rule both ring transports apply to their key (the
// run's secret, derived from the join token): at least MinBytes, or none at
// all with an explicit Insecure, never both, so an empty key is never taken
// by accident.
package ringkey

import "fmt"

// MinBytes is the shortest key Check accepts.
const MinBytes = 16

// Check names what is wrong with a transport's Secret and Insecure fields;
// pkg prefixes the message.
func Check(pkg string, secret []byte, insecure bool) error {
	switch {
	case len(secret) == 0 && !insecure:
		return fmt.Errorf("%s: Config.Secret is empty; want the run's key (or Insecure, for tests)", pkg)
	case len(secret) > 0 && insecure:
		return fmt.Errorf("%s: Config.Insecure is set with a Secret; want one or the other", pkg)
	case len(secret) > 0 && len(secret) < MinBytes:
		return fmt.Errorf("%s: Config.Secret has %d bytes; want >= %d", pkg, len(secret), MinBytes)
	}
	return nil
}

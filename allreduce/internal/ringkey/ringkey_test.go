package ringkey

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	key := []byte("0123456789abcdef")
	for _, tc := range []struct {
		secret   []byte
		insecure bool
		want     string // "" = accepted
	}{
		{key, false, ""},
		{nil, true, ""},
		{nil, false, "Secret is empty"},
		{key, true, "Insecure is set with a Secret"},
		{key[:MinBytes-1], false, "has 15 bytes"},
	} {
		err := Check("pkg", tc.secret, tc.insecure)
		if (err == nil) != (tc.want == "") || err != nil && (!strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "pkg: ")) {
			t.Errorf("Check(%q, %v) = %v; want %q", tc.secret, tc.insecure, err, tc.want)
		}
	}
}

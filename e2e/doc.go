// Package e2e holds end-to-end tests that run real craft processes.
//
// TestMain builds ./cmd/craft once into a temporary directory; every test
// then starts the binary as separate processes, each in its own working
// directory, with its output captured to a file that is shown when the test
// fails. Processes are killed with SIGKILL to test crash safety, and every
// process a test starts is killed when the test ends.
//
// The tests train tiny models (one layer, 32 wide, a few hundred steps) so
// the package runs in well under two minutes on two cores:
//
//	go test ./e2e/
//
// The Docker test builds the image (make image), runs the root
// docker-compose.yml with a project name of its own and removes it again; it
// is skipped, saying why, only when `docker info` fails.
//
// The package has no non-test code; this file only documents it.
package e2e

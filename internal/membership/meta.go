package membership

import (
	"encoding/json"
	"fmt"
)

// Roles of the nodes in a Craft cluster.
const (
	RoleCoordinator = "coordinator"
	RoleWorker      = "worker"
)

// Meta is what a node publishes about itself with its membership.
type Meta struct {
	Role     string `json:"role,omitempty"` // RoleCoordinator or RoleWorker
	WorkerID string `json:"id,omitempty"`   // the worker's id (its node name)
	GRPCAddr string `json:"grpc,omitempty"` // host:port of its gRPC server
	RingAddr string `json:"ring,omitempty"` // host:port its ring neighbours dial
}

// wireMeta is what goes into memberlist's node metadata: the Meta and, once
// the node is closing, Bye. memberlist's leave callback does not say whether
// a node left or died, so a node announces its leave with Bye first.
type wireMeta struct {
	Meta
	Bye bool `json:"bye,omitempty"`
}

func (m Meta) encode() ([]byte, error) {
	return json.Marshal(wireMeta{Meta: m})
}

func encodeBye(m Meta) ([]byte, error) {
	return json.Marshal(wireMeta{Meta: m, Bye: true})
}

func decodeMeta(b []byte) (m Meta, bye bool, err error) {
	if len(b) == 0 {
		return Meta{}, false, nil
	}
	var w wireMeta
	if err := json.Unmarshal(b, &w); err != nil {
		return Meta{}, false, fmt.Errorf("membership: node meta: %w", err)
	}
	return w.Meta, w.Bye, nil
}

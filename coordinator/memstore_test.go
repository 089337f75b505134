package coordinator_test

import (
	"testing"

	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/coordinator/storetest"
)

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB, keep int) coordinator.Store {
		return coordinator.NewMemStore(keep)
	})
}

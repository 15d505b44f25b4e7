package kerneltest_test

import (
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/kerneltest"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
)

// TestMemory holds the in-memory twin to the suite the real kernel passes
// in the e2e VM (applier/kernel/netlink's TestConformance).
func TestMemory(t *testing.T) {
	kerneltest.Run(t, func(t *testing.T) kernel.Kernel {
		k := memory.New()
		k.AddDevice(kerneltest.Device)
		return k
	})
}

// TestMemoryIPVS holds the in-memory IPVS table alone, as a plan against
// a captured table uses it, to the IPVS part of the suite.
func TestMemoryIPVS(t *testing.T) {
	kerneltest.RunIPVS(t, func(t *testing.T) kernel.IPVS { return memory.NewIPVS() })
}

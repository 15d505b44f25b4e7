// Command vmshell boots the e2e VM with an interactive shell on its serial
// console, for debugging guest tests by hand:
//
//	go run ./e2e/cmd/vmshell            # shell at once; tests are in /e2e/bin
//	go run ./e2e/cmd/vmshell -tests     # run the guest tests first
//	go run ./e2e/cmd/vmshell -tests -run 'TestTunnel'
//
// In the guest: ipvsadm, /sbin/ip (iproute2; plain "ip" in the shell is
// busybox's), nft, ss, and busybox. Run a guest test binary by hand with
// "cd /e2e-src/e2e/kernel && /e2e/bin/e2e_kernel.test -test.v -test.run X".
// "exit" powers the VM off; Ctrl-A x kills qemu.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/lvsgen/lvsgen/e2e/vm"
)

func main() {
	tests := flag.Bool("tests", false, "run the guest tests before the shell")
	run := flag.String("run", os.Getenv("LVSGEN_E2E_RUN"), "regexp passed to the guest tests as -test.run")
	keep := flag.Bool("keep", os.Getenv("LVSGEN_E2E_KEEP") == "1", "keep the work directory (initramfs, binaries, console.log)")
	mem := flag.Int("mem", 1024, "guest memory in MiB")
	cpus := flag.Int("cpus", 1, "guest CPUs")
	flag.Parse()

	err := vm.CheckPrerequisites(vm.DefaultCacheDir())
	var m *vm.MissingError
	if errors.As(err, &m) {
		fmt.Fprintf(os.Stderr, "vmshell: %v\n", err)
		os.Exit(2)
	}
	res, err := vm.Boot(context.Background(), vm.Options{
		Keep:      *keep,
		NoTests:   !*tests,
		Run:       *run,
		Verbose:   true,
		Shell:     true,
		Stdin:     os.Stdin,
		Console:   os.Stdout,
		Timeout:   24 * time.Hour,
		MemoryMiB: *mem,
		CPUs:      *cpus,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		},
	})
	if res != nil {
		for _, berr := range res.BuildErrors {
			fmt.Fprintf(os.Stderr, "vmshell: %v\n", berr)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmshell: %v\n", err)
		os.Exit(1)
	}
	if res.Status != 0 {
		os.Exit(1)
	}
}

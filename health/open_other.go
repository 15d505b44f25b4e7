//go:build !unix

package health

import (
	"fmt"
	"os"
	"runtime"
)

// openNoFollow is not supported: there is no O_NOFOLLOW to make the check
// and the open one step.
func openNoFollow(path string) (*os.File, error) {
	return nil, fmt.Errorf("reading a health snapshot is not supported on %s", runtime.GOOS)
}

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// systemdNotify returns watch.Loop's Notify and Watchdog when systemd
// started watch with Type=notify (NOTIFY_SOCKET is set), else nil and 0.
// The variables stay set: the exec health checks get an environment of
// their own, so they do not inherit the socket.
func systemdNotify() (notify func(string) error, watchdog time.Duration, err error) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil, 0, nil
	}
	wd, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return nil, 0, fmt.Errorf("reading systemd's watchdog settings: %w", err)
	}
	notify = func(state string) error {
		_, err := daemon.SdNotify(false, state)
		return err
	}
	// Half the timeout, as sd_watchdog_enabled(3) advises: one late
	// ping does not kill the service.
	return notify, wd / 2, nil
}

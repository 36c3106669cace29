package main

import (
	"os"
	"strings"
	"time"
)

// eventLocation is the event's time zone: -timezone when set, else the
// machine's under its IANA name when one can be found (the browser needs
// the name), else time.Local.
func eventLocation(name string, getenv func(string) string) *time.Location {
	if name == "" {
		name = machineZone(getenv)
	}
	if name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	return time.Local
}

// explicitLocation is -timezone's zone, nil when it is not set (web then
// takes the imported schedule's zone, else the machine's). Validate has
// checked the name.
func explicitLocation(name string) *time.Location {
	if name == "" {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// machineZone is the machine's IANA zone name: $TZ, else the target of the
// /etc/localtime link (…/zoneinfo/Europe/Berlin), else /etc/timezone.
func machineZone(getenv func(string) string) string {
	if tz := strings.TrimPrefix(getenv("TZ"), ":"); tz != "" && !strings.HasPrefix(tz, "/") {
		return tz
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		if _, name, ok := strings.Cut(target, "zoneinfo/"); ok {
			return name
		}
	}
	if b, err := os.ReadFile("/etc/timezone"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

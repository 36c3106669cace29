package programme

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/salon/salon/internal/durable"
)

// settings is Dir/settings.json: what the programme must remember across
// restarts besides the talks themselves (which live in the bucket).
type settings struct {
	// Auto lists the stages in auto mode.
	Auto []string `json:"auto"`
	// AutoStarted lists the live talks the schedule started: only those are
	// stopped by the schedule at their end plus the overrun limit.
	AutoStarted []string `json:"auto_started,omitempty"`
}

func (p *Programme) settingsPath() string { return filepath.Join(p.Dir, "settings.json") }

func (p *Programme) loadSettings() error {
	data, err := os.ReadFile(p.settingsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("programme: read %s: %w", p.settingsPath(), err)
	}
	var s settings
	if err := json.Unmarshal(data, &s); err != nil {
		// The auto flags are convenience, not data: start with them off.
		p.Log.Error("programme settings do not parse; every stage starts with auto off", "file", p.settingsPath(), "error", err)
		return nil
	}
	for _, st := range s.Auto {
		p.auto[st] = true
	}
	for _, id := range s.AutoStarted {
		p.autoStarted[id] = true
	}
	return nil
}

// saveSettings writes the settings (write, fsync, rename). A failure is
// logged and returned: the flags still hold until the next restart.
func (p *Programme) saveSettings() error {
	p.mu.Lock()
	var s settings
	for st := range p.auto {
		s.Auto = append(s.Auto, st)
	}
	for id := range p.autoStarted {
		s.AutoStarted = append(s.AutoStarted, id)
	}
	p.mu.Unlock()
	slices.Sort(s.Auto)
	slices.Sort(s.AutoStarted)
	data, _ := json.MarshalIndent(s, "", "  ")
	if err := durable.WriteFile(p.settingsPath(), append(data, '\n'), 0o644); err != nil {
		p.Log.Error("programme settings not saved: auto mode is not kept across a restart", "error", err)
		return fmt.Errorf("save the programme settings: %w; check the data directory's disk", err)
	}
	return nil
}

package app

import (
	"fmt"
	"io"

	"github.com/bulwarkrpc/bulwark/config"
)

// importServiceConfig reads -service-config and prints at once what has no bulwark
// equivalent, so that -explain shows it beside the converted profiles.
func importServiceConfig(path string, stderr io.Writer) (*config.Config, []config.Warning, error) {
	cfg, warnings, err := config.LoadServiceConfig(path)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "orchestrator: service config:", oneLine(w.String()))
	}
	return cfg, nil, nil
}

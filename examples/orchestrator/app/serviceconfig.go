package app

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

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

// checkServiceConfigNames checks the services and methods the methodConfig names of
// -service-config path (converted into cfg) give against known, as -config's are checked: a
// misspelled name would configure no call. A service in external is taken as it is.
func checkServiceConfigNames(path string, cfg *config.Config, known config.KnownNames, external []string) error {
	services := slices.Sorted(maps.Keys(known))
	var errs []error
	for _, svc := range cfg.ServiceNames() {
		if slices.Contains(external, svc) {
			continue
		}
		methods, ok := known[svc]
		if !ok {
			errs = append(errs, fmt.Errorf("-service-config %s: methodConfig name service %q is not a service this program knows (known services: %s)",
				path, svc, strings.Join(services, ", ")))
			continue
		}
		for _, m := range cfg.MethodNames(svc) {
			if !slices.Contains(methods, m) {
				errs = append(errs, fmt.Errorf("-service-config %s: methodConfig name method %q is not a method of %s (methods: %s)",
					path, m, svc, strings.Join(methods, ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

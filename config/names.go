package config

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// KnownNames is what a program knows of gRPC services: each fully qualified service name
// ("kyc.v1.OCRService") with the short names of its methods ("Extract"). A program builds it
// from the descriptors it links (protoregistry.GlobalFiles).
type KnownNames map[string][]string

// CheckNames checks the service and method names c configures against known: a name the
// program does not know is almost always a typo, and a typo'd binding silently leaves the
// real service on the default policies. Each unknown service or method is an *Error naming
// its path, with the closest known name when one is near ("did you mean"); file names the
// configuration in the errors (it may be empty). Services listed in external are services the
// program reaches without linking their descriptors: they and their methods are accepted as
// written. The errors are joined with errors.Join, in name order.
func (c *Config) CheckNames(file string, known KnownNames, external []string) error {
	services := make([]string, 0, len(known))
	for s := range known {
		services = append(services, s)
	}
	slices.Sort(services)
	var errs []error
	for _, svc := range c.ServiceNames() {
		if slices.Contains(external, svc) {
			continue
		}
		methods, ok := known[svc]
		if !ok {
			errs = append(errs, &Error{File: file, Path: "services." + strconv.Quote(svc), Value: strconv.Quote(svc),
				Rule: "is not a service this program knows" + didYouMean(svc, services) +
					"; a service it reaches without its descriptors must be declared external"})
			continue
		}
		for _, m := range c.MethodNames(svc) {
			if slices.Contains(methods, m) {
				continue
			}
			errs = append(errs, &Error{File: file, Path: "services." + strconv.Quote(svc) + ".methods." + m, Value: strconv.Quote(m),
				Rule: "is not a method of " + svc + didYouMean(m, methods) + " (methods: " + strings.Join(methods, ", ") + ")"})
		}
	}
	return errors.Join(errs...)
}

// didYouMean returns ` (did you mean "X"?)` for the candidate closest to name, when it is
// close enough to be a typo: at most a third of the name's length in edits, and at least one.
func didYouMean(name string, candidates []string) string {
	best, bestD := "", len(name)/3+1
	for _, c := range candidates {
		if d := levenshtein(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

package config

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// KnownNames is what a program knows of gRPC services: each fully qualified service name
// ("kyc.v1.OCRService") with the short names of its methods ("Extract"). A program builds it
// from the descriptors it links (protoregistry.GlobalFiles).
type KnownNames map[string][]string

// CheckNames checks the service and method names c configures against known: a name the
// program does not know is almost always a typo, and a typo'd binding silently leaves the
// real service on the default policies. Each unknown service or method is an *Error naming
// its path, with the closest known name when one is near ("did you mean"), or the known
// service whose method a service key names ("kyc.v1.OCRService.Extract"); file names the
// configuration in the errors (it may be empty). Services listed in external are services the
// program reaches without linking their descriptors: they and their methods are accepted as
// written. The errors are joined with errors.Join, in name order. For a Config that Load,
// Parse or yaml.Unmarshal read, each error has the line of the name (in builtin.yaml, named
// so, for a built-in binding); for one built in Go, no line.
func (c *Config) CheckNames(file string, known KnownNames, external []string) error {
	c = c.orBuiltin()
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
		path := "services." + fielderr.Key(svc)
		methods, ok := known[svc]
		if !ok {
			f, line := c.place(file, path)
			if s, m, ok := splitMethodKey(svc, func(s, m string) bool { return slices.Contains(known[s], m) }); ok {
				errs = append(errs, methodKeyError(f, line, path, svc, s, m))
				continue
			}
			errs = append(errs, &Error{File: f, Line: line, Path: path, Value: strconv.Quote(svc),
				Rule: "is not a service this program knows" + didYouMean(svc, services) +
					"; a service it reaches without its descriptors must be declared external"})
			continue
		}
		for _, m := range c.MethodNames(svc) {
			if slices.Contains(methods, m) {
				continue
			}
			mpath := path + ".methods." + fielderr.Key(m)
			f, line := c.place(file, mpath)
			errs = append(errs, &Error{File: f, Line: line, Path: mpath, Value: strconv.Quote(m),
				Rule: "is not a method of " + svc + didYouMean(m, methods) + " (methods: " + strings.Join(methods, ", ") + ")"})
		}
	}
	return errors.Join(errs...)
}

// CheckMethodKeys reports the services keys of c that are the dotted full name of a method
// ("kyc.v1.OCRService.Extract") by declares, which tells whether a service the program knows
// declares a method (for a suite: the registered descriptors): such a key configures a service
// nobody calls, and its policy never reaches the method. Validate refuses such a key only
// beside its service's own key, since it knows no program's services. Each is an *Error as CheckNames gives it, with file and the key's line; they are
// joined with errors.Join, in name order.
func (c *Config) CheckMethodKeys(file string, declares func(service, method string) bool) error {
	c = c.orBuiltin()
	var errs []error
	for _, svc := range c.ServiceNames() {
		if s, m, ok := splitMethodKey(svc, declares); ok {
			path := "services." + fielderr.Key(svc)
			f, line := c.place(file, path)
			errs = append(errs, methodKeyError(f, line, path, svc, s, m))
		}
	}
	return errors.Join(errs...)
}

// splitMethodKey splits key, a services key, into the service and method it names when it is
// the dotted full name of a method declares knows.
func splitMethodKey(key string, declares func(service, method string) bool) (service, method string, ok bool) {
	i := strings.LastIndexByte(key, '.')
	if i <= 0 || !declares(key[:i], key[i+1:]) {
		return "", "", false
	}
	return key[:i], key[i+1:], true
}

// methodKeyError is the error of the services key svc, at file:line and path, that names the
// method m of the service s.
func methodKeyError(file string, line int, path, svc, s, m string) error {
	return &Error{File: file, Line: line, Path: path, Value: strconv.Quote(svc),
		Rule: "is the method " + m + " of the service " + s + ", not a service: methods go under the service's methods (" + s + ": {methods: {" + m + ": ...}})"}
}

// place returns where the key at path was written in the sources c was read from: file and
// its line in the first source (the file's own, which file names), another source's name and
// line (builtin.yaml), or file and 0 when no source holds exactly path (c was built in Go, or
// changed since it was read).
func (c *Config) place(file, path string) (string, int) {
	for i, s := range c.srcs {
		if line, ok := s.lines[path]; ok {
			if i == 0 {
				return file, line
			}
			return s.file, line
		}
	}
	return file, 0
}

// didYouMean returns ` (did you mean "X"?)` for the candidate closest to name, when it is
// close enough to be a typo: at most a third of the name's length in edits, and at least one.
func didYouMean(name string, candidates []string) string {
	best, bestD := "", max(len(name)/3, 1)+1
	for _, c := range candidates {
		if d := fielderr.Distance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

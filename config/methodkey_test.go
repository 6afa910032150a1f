package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// A method's full name written as a services key configures no call: it is refused with a
// rule that says where the method goes, at the key.
func TestMethodNameAsServiceKey(t *testing.T) {
	const where = "methods go under the service's methods (kyc.v1.OCRService: {methods: {Extract: ...}})"
	for _, tt := range []struct{ name, yaml, path, want string }{
		{"slash", "services:\n  /kyc.v1.OCRService/Extract:\n    retry: {max_attempts: 2}\n",
			`x.yaml:2: services."/kyc.v1.OCRService/Extract": "/kyc.v1.OCRService/Extract" is a method's full name`, where},
		{"no_leading_slash", "services:\n  kyc.v1.OCRService/Extract: {profile: ml}\n",
			`x.yaml:2: services."kyc.v1.OCRService/Extract": "kyc.v1.OCRService/Extract" is a method's full name`, where},
		// Protobuf forbids a name that is both a service and a package: with the service also
		// configured, S.Extract can only be its method.
		{"dotted_beside_service", "services:\n  kyc.v1.OCRService: {profile: ml}\n  kyc.v1.OCRService.Extract: {profile: ml}\n",
			`x.yaml:3: services."kyc.v1.OCRService.Extract": "kyc.v1.OCRService.Extract" is the method Extract of the service kyc.v1.OCRService (also configured), not a service`, where},
		{"method_key", "services:\n  kyc.v1.OCRService:\n    methods:\n      /kyc.v1.OCRService/Extract: {profile: ml}\n",
			`x.yaml:4: services."kyc.v1.OCRService".methods."/kyc.v1.OCRService/Extract": "/kyc.v1.OCRService/Extract" is a method's full name`,
			"a methods key is the method's short name (Extract)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := config.Parse("x.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse accepted a method's full name as a key")
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.path) || !strings.Contains(got, tt.want) {
				t.Errorf("error:\n%s\nwant it to start %q and say %q", got, tt.path, tt.want)
			}
		})
	}
}

// A package's name and a service's further down it are not a method and its service.
func TestDottedServiceKeysBesidePackageAccepted(t *testing.T) {
	y := "services:\n  acme.v1: {profile: ml}\n  acme.v1.Geo: {profile: ml}\n"
	if _, _, err := config.Parse("x.yaml", []byte(y)); err != nil {
		t.Fatalf("Parse: %v", err)
	}
}

// In a gRPC service config, a method's full name in "service" or "method" is refused at its
// JSON field (grpc-go takes it and applies the config to no call), not at a yaml path of the
// converted configuration.
func TestServiceConfigMethodNameAsService(t *testing.T) {
	for _, tt := range []struct{ name, doc, want string }{
		{"service", `{"methodConfig":[{"name":[{"service":"/kyc.v1.OCRService/Extract"}],"timeout":"1s"}]}`,
			`sc.json: methodConfig[0].name[0].service: "/kyc.v1.OCRService/Extract" is a method's full name: "service" is the fully qualified service name and "method" the method's short name ({"service": "kyc.v1.OCRService", "method": "Extract"})`},
		{"method", `{"methodConfig":[{"name":[{"service":"kyc.v1.OCRService","method":"kyc.v1.OCRService/Extract"}],"timeout":"1s"}]}`,
			`sc.json: methodConfig[0].name[0].method: "kyc.v1.OCRService/Extract" is a method's full name: "method" is the method's short name (Extract)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := config.ParseServiceConfig("sc.json", []byte(tt.doc))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v\nwant one starting %q", err, tt.want)
			}
		})
	}
}

// CheckNames knows the program's services: a services key that is a known service's method
// is said to be one, not taken for a typo of the service.
func TestCheckNamesMethodAsService(t *testing.T) {
	cfg, _, err := config.Parse("c.yaml", []byte("services:\n  acme.v1.Geo.Locate: {profile: ml}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.CheckNames("c.yaml", config.KnownNames{"acme.v1.Geo": {"Locate"}, "kyc.v1.OCRService": {"Extract"}, "kyc.v1.LivenessService": {"Check"}, "kyc.v1.FaceMatchService": {"Compare"}}, nil)
	want := `c.yaml:2: services."acme.v1.Geo.Locate": "acme.v1.Geo.Locate" is the method Locate of the service acme.v1.Geo, not a service: methods go under the service's methods (acme.v1.Geo: {methods: {Locate: ...}})`
	if err == nil || err.Error() != want {
		t.Fatalf("CheckNames: %v\nwant %s", err, want)
	}
}

// CheckMethodKeys takes what a program knows of its services as a function (a suite asks its
// registered descriptors): a key that is a declared method's dotted name is said to be one, at
// its line; a service, a package and an unknown dotted name are not reported.
func TestCheckMethodKeys(t *testing.T) {
	y := "services:\n  acme.v1.Geo: {profile: ml}\n  acme.v1: {profile: ml}\n  acme.v2.Geo.Locate: {profile: ml}\n  acme.v2.Geo.Unknown: {profile: ml}\n"
	cfg, _, err := config.Parse("c.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	declares := func(svc, m string) bool { return svc == "acme.v2.Geo" && m == "Locate" }
	err = cfg.CheckMethodKeys("c.yaml", declares)
	want := `c.yaml:4: services."acme.v2.Geo.Locate": "acme.v2.Geo.Locate" is the method Locate of the service acme.v2.Geo, not a service: methods go under the service's methods (acme.v2.Geo: {methods: {Locate: ...}})`
	if err == nil || err.Error() != want {
		t.Fatalf("CheckMethodKeys: %v\nwant %s", err, want)
	}
	if err := cfg.CheckMethodKeys("c.yaml", func(string, string) bool { return false }); err != nil {
		t.Errorf("CheckMethodKeys knowing no method: %v, want nil", err)
	}
}

package interceptors_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	_ "github.com/bulwarkrpc/bulwark/proto/kyc/v1" // the registered descriptors
)

// A services key that is a registered method's dotted name ("kyc.v1.OCRService.Extract")
// configures a service nobody calls: Validate cannot tell (it knows no program's services)
// unless the service's own key is beside it, but the suite knows the registered descriptors,
// so New and Reload refuse it, naming the key and where the method goes. A refused Reload
// keeps the configuration in force.
func TestRegisteredMethodAsServiceKeyRefused(t *testing.T) {
	const want = `bulwark: invalid configuration: services."kyc.v1.OCRService.Extract": "kyc.v1.OCRService.Extract" is the method Extract of the service kyc.v1.OCRService, not a service: methods go under the service's methods (kyc.v1.OCRService: {methods: {Extract: ...}})`
	// The built-in configuration, with the OCR service's key replaced by its method's.
	cfg := config.Builtin()
	cfg.Services["kyc.v1.OCRService.Extract"] = cfg.Services["kyc.v1.OCRService"]
	delete(cfg.Services, "kyc.v1.OCRService")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v (the dotted key alone passes it)", err)
	}
	if s, err := interceptors.New(cfg); err == nil || !strings.HasPrefix(err.Error(), want) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("New: %v\nwant an error starting %s", err, want)
	}
	s, err := interceptors.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Reload(cfg); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Reload: %v\nwant an error starting %s", err, want)
	}
	if _, ok := s.Config().Services["kyc.v1.OCRService.Extract"]; ok {
		t.Error("the refused configuration is in force")
	}
	// A service outside the program's descriptors, with a dotted name, is accepted.
	other := config.Builtin()
	other.Services["acme.v1.Geo.Locate"] = config.Service{Profile: "ml"}
	if err := s.Reload(other); err != nil {
		t.Errorf("Reload of an unregistered dotted service: %v, want nil", err)
	}
}

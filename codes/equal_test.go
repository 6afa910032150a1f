package codes_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	grpccodes "google.golang.org/grpc/codes"
)

func TestClassifierEqual(t *testing.T) {
	with := func(o codes.Overrides) *codes.Classifier {
		c, err := codes.Default().With(o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	business := codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}}
	reason := codes.Overrides{Reasons: map[string]codes.Class{"DOCUMENT_UNREADABLE": codes.Business}}
	for _, tt := range []struct {
		name string
		a, b *codes.Classifier
		want bool
	}{
		{"default and no overrides", codes.Default(), with(codes.Overrides{}), true},
		{"same overrides apart", with(business), with(business), true},
		{"a code differs", codes.Default(), with(business), false},
		{"a reason differs", codes.Default(), with(reason), false},
		{"nil and default", nil, codes.Default(), false},
	} {
		if got := tt.a.Equal(tt.b); got != tt.want {
			t.Errorf("%s: Equal %v, want %v", tt.name, got, tt.want)
		}
	}
}

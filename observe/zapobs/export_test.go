package zapobs

import "github.com/bulwarkrpc/bulwark/internal/breakerstates"

// MaxBreakers exports the bound on the breakers kept to the tests.
const MaxBreakers = breakerstates.MaxBreakers

package zapobs

// MaxBreakers exports maxBreakers to the tests.
const MaxBreakers = maxBreakers

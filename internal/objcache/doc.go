// Package objcache keeps a suite's policy objects across configuration reloads.
//
// # Identity
//
// An object is cached under its section and its name (Key): a service's name for objects
// that serve every method of the service alike, a full method's for the rest. A later build
// under the same key gets the cached object when the Fingerprint it is built from is the
// same, so that a breaker's state, a bulkhead's slots in use, a limiter's tokens or a retry
// budget survive a reload that does not touch them; otherwise a new object replaces it.
//
// # Fingerprint
//
// A fingerprint is everything an object is built from that changes how it behaves: the
// section's value (compared with the section's Equal), the classifier overrides when the
// object classifies outcomes, the call budget when the object bounds itself by it, and the
// shared objects it captures, by identity (the hedge's retry budget, a shared token bucket). What is the same for
// every object of a suite (its clock, sink and random source) is left out.
//
// # Closing
//
// Closers registered while an object is built run when the cache closes, also for objects
// replaced before: calls in flight may still use a replaced object.
//
// # Transactions
//
// A reload takes many objects, and must change nothing when one of them fails to build.
// Begin starts a transaction whose Gets stage what they build instead of caching it: Commit
// publishes the staged objects (replacing and retiring the cached ones) and gives the objects
// Retune kept their new settings, Rollback drops them and runs their closers at once, leaving
// the cache, its retired closers, the keys Prune forgot and the kept objects' settings as they
// were. Within a transaction, the chains that name one key with one fingerprint get one
// object, staged or kept.
//
// A Cache is not safe for concurrent use: its owner guards it (the suite's lock).
package objcache

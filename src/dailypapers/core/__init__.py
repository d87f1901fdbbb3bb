"""Pure domain logic: no SQL, no HTTP, and `now` is always passed in."""

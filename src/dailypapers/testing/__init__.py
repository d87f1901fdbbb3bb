"""Support for the test suite and benchmarks: throwaway PostgreSQL clusters."""

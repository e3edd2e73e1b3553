// Included last by every .cpp file of the core (not by headers, which src/pg/ includes too): the core must compile
// without PostgreSQL, so that it can be unit-tested alone and so that no PostgreSQL error (a longjmp) can ever cross
// its C++ frames. Included after everything else, it fails the build if any include above brought in postgres.h.
// Two more checks hold the line: the unit-test build compiles src/core without PostgreSQL's include path, and
// scripts/check-boundaries.sh (run by scripts/test.sh) refuses PostgreSQL or src/pg includes under src/core.
#pragma once
#ifdef PG_VERSION_NUM
#error "src/core must not include PostgreSQL headers; put PostgreSQL code under src/pg/"
#endif

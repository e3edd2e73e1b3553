// Included first by every .cpp file of the core (not by headers, which src/pg/ includes too): the core must compile
// without PostgreSQL, so that it can be unit-tested alone and so that no PostgreSQL error (a longjmp) can ever cross
// its C++ frames.
#pragma once
#ifdef PG_VERSION_NUM
#error "src/core must not include PostgreSQL headers; put PostgreSQL code under src/pg/"
#endif

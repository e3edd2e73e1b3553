# PGXS build of the tenant_backup extension: `make && make install`, `make installcheck`.
EXTENSION = tenant_backup
MODULE_big = tenant_backup
DATA = $(wildcard tenant_backup--*.sql)

SRCS = $(wildcard src/core/*.cpp src/core/*/*.cpp src/core/*/*/*.cpp src/pg/*.cpp src/pg/*/*.cpp)
OBJS = $(SRCS:.cpp=.o)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -Isrc
PG_CXXFLAGS = -std=c++17 -pthread -Wall -Wextra -Wno-missing-field-initializers -Wno-register -fPIC -MMD -MP
SHLIB_LINK = -lzstd -lcrypto -lcurl -lstdc++ -lpthread

# No JIT bitcode for C++ sources (it needs clang and gains nothing here).
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL's headers are not ours to warn about.
override CPPFLAGS := $(patsubst -I%server,-isystem %server,$(CPPFLAGS))

%.o: %.cpp
	$(CXX) $(CXXFLAGS) $(PG_CXXFLAGS) $(CPPFLAGS) -c -o $@ $<

-include $(SRCS:.cpp=.d)

clean: clean-deps
clean-deps:
	rm -f $(SRCS:.cpp=.d)
.PHONY: clean-deps

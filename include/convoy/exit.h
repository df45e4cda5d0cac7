/* exit.h: convoy's process exit codes (documented in docs/convoy.1.md). */
#ifndef CONVOY_EXIT_H
#define CONVOY_EXIT_H

enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1, /* bad input, unknown objects, SQL errors, connection failures */
    EXIT_USAGE = 2,
    EXIT_REFUSED = 3,      /* the planner refused an unsafe change */
    EXIT_BUSY = 4,         /* another convoy process holds the migration's lease */
    EXIT_LOCKED = 5,       /* a lock could not be taken within the retry budget */
    EXIT_PRECONDITION = 6, /* data must be fixed first: FK orphans, duplicates, violations */
    EXIT_ABORTED = 7,      /* aborted or interrupted at a safe point; apply again resumes */
    EXIT_NOT_FOUND = 8, /* no migration of the given NAME in the database (or no convoy schema) */
};

#endif

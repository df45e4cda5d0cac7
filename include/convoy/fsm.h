/*
 * fsm.h: the migration lifecycle as a transition table (pure).
 *
 * Every status change of a migration is one edge of fsm_edges[]; state_transition() is the
 * only function that changes a status, it refuses an edge the table does not have, and it
 * writes an audit row for every transition it makes. Driver edges are fenced by the lease
 * token; operator edges (abort, pause, resume) are requests that the driver acts on at its next
 * safe point.
 */
#ifndef CONVOY_FSM_H
#define CONVOY_FSM_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    MIG_SUBMITTED,   /* planned and recorded, no step run yet */
    MIG_RUNNING,     /* a driver holds the lease and runs steps */
    MIG_INTERRUPTED, /* SIGINT/SIGTERM: stopped at a consistent point; apply resumes */
    MIG_ABORTING,    /* an operator asked to abort; the driver undoes at its next safe point */
    MIG_ABORTED,     /* undone what abort undoes; apply resumes */
    MIG_FAILED,      /* a step failed; what convoy installed was removed; apply retries */
    MIG_BLOCKED,     /* the data must be fixed first (violations, orphans, duplicates) */
    MIG_DONE,        /* every step done */
    MIG_PAUSED,      /* held on purpose: by an operator, or a bounded hold that expired */
    MIG_WAITING,     /* a contract phase: waits until its expand migration's contract gate opens */
    MIG_N_STATUS
} mig_status_t;

typedef enum {
    EV_START,          /* the first driver begins */
    EV_RESUME,         /* a driver picks a stopped (or crashed) migration up again */
    EV_COMPLETE,       /* the last step is done */
    EV_FAIL,           /* a step failed */
    EV_BLOCK,          /* a precondition on the data does not hold */
    EV_INTERRUPT,      /* a signal stopped the driver */
    EV_ABORT_REQUEST,  /* operator: convoy abort */
    EV_ABORT_DONE,     /* the abort's cleanup finished */
    EV_PAUSE_REQUEST,  /* operator: convoy pause */
    EV_RESUME_REQUEST, /* operator: convoy resume */
    EV_HOLD_EXPIRED,   /* a bounded hold (replica readers, replay) ran out: wait for an operator */
    EV_GATE_WAIT,      /* a contract phase finds its contract gate not open yet */
    EV_GATE_OPEN,      /* ... and then open: its steps may run */
    EV_N
} mig_event_t;

typedef struct {
    mig_status_t from;
    mig_event_t event;
    mig_status_t to;
    bool by_operator; /* not fenced by the lease: a request, never a step */
    const char *meaning;
} fsm_edge_t;

/*
 * Deploy gates (expand, contract): per migration, durable, one small table of edges.
 * Open means the next app rollout (expand) or the destructive follow-up (contract) may go.
 */
typedef enum { DG_PENDING, DG_OPEN, DG_FAILED, DG_N_STATE } dgate_state_t;

typedef struct {
    dgate_state_t from, to;
    const char *meaning;
} dgate_edge_t;

extern const dgate_edge_t dgate_edges[];
extern const size_t dgate_n_edges;
const char *dgate_state_name(dgate_state_t s);
bool dgate_state_parse(const char *name, dgate_state_t *out);
/* The edge from -> to, or NULL when the gate table has none. */
const dgate_edge_t *dgate_edge(dgate_state_t from, dgate_state_t to);

extern const fsm_edge_t fsm_edges[];
extern const size_t fsm_n_edges;

const char *mig_status_name(mig_status_t s);
const char *mig_event_name(mig_event_t e);
/* False for a name that is not a status. */
bool mig_status_parse(const char *name, mig_status_t *out);
/* The edge for (from, event), or NULL when the table has none. */
const fsm_edge_t *fsm_edge(mig_status_t from, mig_event_t event);

#endif

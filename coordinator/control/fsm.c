/* fsm.c: the migration lifecycle table and its lookups (pure). */
#include "convoy/fsm.h"

#include <string.h>

static const char *const status_names[MIG_N_STATUS] = {
    "submitted", "running", "interrupted", "aborting", "aborted",
    "failed",    "blocked", "done",        "paused",   "waiting"};

static const char *const event_names[EV_N] = {
    "start",        "resume",        "complete",   "fail",          "block",
    "interrupt",    "abort_request", "abort_done", "pause_request", "resume_request",
    "hold_expired", "gate_wait",     "gate_open"};

const fsm_edge_t fsm_edges[] = {
    {MIG_SUBMITTED, EV_START, MIG_RUNNING, false, "a driver takes the lease and runs step 1"},
    {MIG_SUBMITTED, EV_ABORT_REQUEST, MIG_ABORTING, true, "abort before any step ran"},
    {MIG_SUBMITTED, EV_RESUME, MIG_RUNNING, false, "the first driver died before step 1"},
    {MIG_RUNNING, EV_COMPLETE, MIG_DONE, false, "every step is done"},
    {MIG_RUNNING, EV_FAIL, MIG_FAILED, false, "a step failed; convoy's helpers are removed"},
    {MIG_RUNNING, EV_BLOCK, MIG_BLOCKED, false, "the data violates the new rule"},
    {MIG_RUNNING, EV_INTERRUPT, MIG_INTERRUPTED, false, "SIGINT/SIGTERM at a consistent point"},
    {MIG_RUNNING, EV_RESUME, MIG_RUNNING, false, "the previous driver died (kill -9, crash)"},
    {MIG_RUNNING, EV_ABORT_REQUEST, MIG_ABORTING, true, "operator: convoy abort"},
    {MIG_INTERRUPTED, EV_RESUME, MIG_RUNNING, false, "convoy apply again"},
    {MIG_INTERRUPTED, EV_ABORT_REQUEST, MIG_ABORTING, true, "operator: convoy abort"},
    {MIG_FAILED, EV_RESUME, MIG_RUNNING, false, "convoy apply again"},
    {MIG_FAILED, EV_ABORT_REQUEST, MIG_ABORTING, true, "operator: convoy abort"},
    {MIG_BLOCKED, EV_RESUME, MIG_RUNNING, false, "convoy apply again after fixing the data"},
    {MIG_BLOCKED, EV_ABORT_REQUEST, MIG_ABORTING, true, "operator: convoy abort"},
    {MIG_ABORTING, EV_ABORT_DONE, MIG_ABORTED, false, "helpers removed, driver stopped"},
    {MIG_ABORTED, EV_RESUME, MIG_RUNNING, false, "convoy apply again"},
    {MIG_RUNNING, EV_PAUSE_REQUEST, MIG_PAUSED, true, "operator: convoy pause"},
    {MIG_RUNNING, EV_HOLD_EXPIRED, MIG_PAUSED, false, "a bounded hold ran out; the reason is kept"},
    {MIG_PAUSED, EV_RESUME_REQUEST, MIG_RUNNING, true, "operator: convoy resume"},
    {MIG_PAUSED, EV_RESUME, MIG_PAUSED, false, "a new driver takes over; it stays paused"},
    {MIG_PAUSED, EV_INTERRUPT, MIG_INTERRUPTED, false, "SIGINT/SIGTERM while paused"},
    {MIG_PAUSED, EV_ABORT_REQUEST, MIG_ABORTING, true, "operator: convoy abort"},
    {MIG_RUNNING, EV_GATE_WAIT, MIG_WAITING, false,
     "a contract phase: the contract gate of its expand migration is not open"},
    {MIG_WAITING, EV_GATE_OPEN, MIG_RUNNING, false, "the contract gate opened: the steps run"},
    {MIG_WAITING, EV_RESUME, MIG_WAITING, false, "a new driver takes over; it keeps waiting"},
    {MIG_WAITING, EV_INTERRUPT, MIG_INTERRUPTED, false, "SIGINT/SIGTERM while waiting"},
    {MIG_WAITING, EV_ABORT_REQUEST, MIG_ABORTING, true, "operator: convoy abort"},
};
const size_t fsm_n_edges = sizeof(fsm_edges) / sizeof(fsm_edges[0]);

const char *
mig_status_name(mig_status_t s)
{
    return (unsigned)s < MIG_N_STATUS ? status_names[s] : "unknown";
}

const char *
mig_event_name(mig_event_t e)
{
    return (unsigned)e < EV_N ? event_names[e] : "unknown";
}

bool
mig_status_parse(const char *name, mig_status_t *out)
{
    for (int i = 0; name && i < MIG_N_STATUS; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (mig_status_t)i;
            return true;
        }
    }
    return false;
}

const fsm_edge_t *
fsm_edge(mig_status_t from, mig_event_t event)
{
    for (size_t i = 0; i < fsm_n_edges; i++)
        if (fsm_edges[i].from == from && fsm_edges[i].event == event)
            return &fsm_edges[i];
    return NULL;
}

static const char *const dgate_names[DG_N_STATE] = {"pending", "open", "failed"};

const dgate_edge_t dgate_edges[] = {
    {DG_PENDING, DG_OPEN, "every condition holds"},
    {DG_PENDING, DG_FAILED,
     "a condition cannot hold (verification or compatibility failed, "
     "the migration failed or was aborted)"},
    {DG_FAILED, DG_PENDING, "the cause is gone (fixed and verified again, resumed)"},
    {DG_FAILED, DG_OPEN, "the cause is gone and every condition holds"},
};
const size_t dgate_n_edges = sizeof(dgate_edges) / sizeof(dgate_edges[0]);

const char *
dgate_state_name(dgate_state_t s)
{
    return (unsigned)s < DG_N_STATE ? dgate_names[s] : "unknown";
}

bool
dgate_state_parse(const char *name, dgate_state_t *out)
{
    for (int i = 0; name && i < DG_N_STATE; i++)
        if (strcmp(name, dgate_names[i]) == 0) {
            *out = (dgate_state_t)i;
            return true;
        }
    return false;
}

const dgate_edge_t *
dgate_edge(dgate_state_t from, dgate_state_t to)
{
    for (size_t i = 0; i < dgate_n_edges; i++)
        if (dgate_edges[i].from == from && dgate_edges[i].to == to)
            return &dgate_edges[i];
    return NULL;
}

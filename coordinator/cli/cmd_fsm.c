/* cmd_fsm.c: `convoy fsm`: prints the migration lifecycle table (control/fsm.c). */
#include "cli.h"
#include "convoy/fsm.h"

#include <stdio.h>

int
cmd_fsm(const cli_opts_t *o)
{
    if (o->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < fsm_n_edges; i++) {
            const fsm_edge_t *e = &fsm_edges[i];
            json_array_append_new(
                a, json_pack("{s:s, s:s, s:s, s:b, s:s}", "from", mig_status_name(e->from), "event",
                             mig_event_name(e->event), "to", mig_status_name(e->to), "by_operator",
                             e->by_operator, "meaning", e->meaning));
        }
        cli_print_json(a);
        return EXIT_OK;
    }
    printf("%-12s %-14s %-12s %-9s %s\n", "FROM", "EVENT", "TO", "BY", "MEANING");
    for (size_t i = 0; i < fsm_n_edges; i++) {
        const fsm_edge_t *e = &fsm_edges[i];
        printf("%-12s %-14s %-12s %-9s %s\n", mig_status_name(e->from), mig_event_name(e->event),
               mig_status_name(e->to), e->by_operator ? "operator" : "driver", e->meaning);
    }
    printf("\nA new migration starts as 'submitted'. Every transition is written to convoy.audit;\n"
           "driver transitions are fenced by the lease token, operator ones are requests.\n");
    return EXIT_OK;
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One place for diagnostics of the library, libbpf and libxdp. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above level are dropped; libbpf/libxdp are routed here too. */
void log_setup(const char *prog, enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The first libxdp/libbpf warning since log_clear_lib_warning(), kept so an attach can say why it fell back. */
const char *log_last_lib_warning(void);
void log_clear_lib_warning(void);

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

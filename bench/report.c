/* SPDX-License-Identifier: MIT */
/* Ratios and output. Skipped and failed rows are always printed, with empty figures. */
#define _GNU_SOURCE
#include "report.h"

#include <math.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

double bench_key(const struct bench_row *row, const struct bench_fig *f)
{
	return row->c->shape == BENCH_RTT ? f->p50 : f->mean;
}

static const struct bench_row *find(const struct bench_run *run, const char *name)
{
	for (int i = 0; i < run->n; i++)
		if (!strcmp(run->rows[i].c->name, name))
			return &run->rows[i];
	return NULL;
}

static bool usable(const struct bench_row *r)
{
	return r && r->status == BENCH_OK && r->nrounds > 0 && !isnan(bench_key(r, &r->med)) &&
	       bench_key(r, &r->med) > 0;
}

void bench_ratios(struct bench_run *run)
{
	for (int i = 0; i < run->n; i++) {
		struct bench_row *row = &run->rows[i];
		row->x_floor = row->x_best = NAN;
		row->best = NULL;
		if (run->sweep || !usable(row))
			continue;
		double k = bench_key(row, &row->med);
		const struct bench_row *fl = row->c->floor ? find(run, row->c->floor) : NULL;
		if (usable(fl))
			row->x_floor = k / bench_key(fl, &fl->med);
		const struct bench_row *best = NULL;
		for (int j = 0; j < run->n; j++) {
			const struct bench_row *o = &run->rows[j];
			if (!usable(o) || strcmp(o->c->job, row->c->job) != 0 ||
			    !strcmp(o->c->job, "floor") || !strncmp(o->c->name, "ipcx.", 5))
				continue;
			if (!best || bench_key(o, &o->med) < bench_key(best, &best->med))
				best = o;
		}
		if (best) {
			row->x_best = k / bench_key(best, &best->med);
			row->best = best->c->name;
		}
	}
}

static void machine(char *buf, size_t n)
{
	char model[256] = "unknown CPU", line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *colon = strchr(line, ':');
			if (!strncmp(line, "model name", 10) && colon) {
				snprintf(model, sizeof(model), "%s", colon + 2);
				model[strcspn(model, "\n")] = 0;
				break;
			}
		}
		fclose(f);
	}
	struct utsname u;
	uname(&u);
	snprintf(buf, n, "%s, %ld CPUs online, Linux %s", model, sysconf(_SC_NPROCESSORS_ONLN),
	         u.release);
}

/* Times: ns below 10 us, then us, then ms. */
static void fmt_time(char *b, size_t n, double ns)
{
	if (isnan(ns))
		snprintf(b, n, "-");
	else if (ns < 10000)
		snprintf(b, n, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(b, n, "%.1f us", ns / 1e3);
	else
		snprintf(b, n, "%.2f ms", ns / 1e6);
}

static void fmt_range(char *b, size_t n, double lo, double hi)
{
	char x[32], y[32];
	if (isnan(lo)) {
		snprintf(b, n, "-");
		return;
	}
	fmt_time(x, sizeof(x), lo);
	fmt_time(y, sizeof(y), hi);
	snprintf(b, n, "%s-%s", x, y);
}

static void fmt_rate(char *b, size_t n, double v, const char *unit)
{
	if (isnan(v))
		snprintf(b, n, "-");
	else if (v >= 1e6)
		snprintf(b, n, "%.2f M%s", v / 1e6, unit);
	else if (v >= 1e3)
		snprintf(b, n, "%.1f k%s", v / 1e3, unit);
	else
		snprintf(b, n, "%.2f %s", v, unit);
}

static void fmt_ratio(char *b, size_t n, double x, const char *name)
{
	if (isnan(x))
		snprintf(b, n, "-");
	else if (x >= 100)
		snprintf(b, n, "%.0fx %s", x, name);
	else
		snprintf(b, n, "%.2fx %s", x, name);
}

static const char *short_floor(const char *name)
{
	const char *p = name ? strchr(name, '.') : NULL;
	return p ? p + 1 : "";
}

static void table(const struct bench_run *run, FILE *out)
{
	char m[512];
	machine(m, sizeof(m));
	fprintf(out, "# %s\n", m);
	/* Other work on the machine moves every figure: say how busy it was. */
	FILE *la = fopen("/proc/loadavg", "r");
	double l1;
	if (la && fscanf(la, "%lf", &l1) == 1)
		fprintf(out, "# load average (1 min) at the end of the run: %.2f\n", l1);
	if (la)
		fclose(la);
	fprintf(out,
	        "# clock %s (its cost, %.0f ns per sample, is subtracted); %d rounds interleaved, "
	        "%.0f ms per case per round; figures are medians over rounds\n",
	        bench_clock_name(), bench_clock_overhead_ns(), run->nrounds, run->budget_ms);
	if (run->sweep) {
		fprintf(out, "%-28s %9s %10s %10s %10s  %s\n", "case", "size", "p50", "p99", "mean",
		        "p50 min-max");
	} else {
		fprintf(out, "%-27s %9s %9s %9s  %-21s %10s %7s  %-18s %s\n", "case", "p50", "p99",
		        "mean", "min-max", "msgs/s", "GB/s", "x floor", "x best non-ipcx");
	}
	for (int i = 0; i < run->n; i++) {
		const struct bench_row *r = &run->rows[i];
		char a[32], b[32], c[32], d[64], e[32], f[32], g[64], h[96];
		if (r->status != BENCH_OK || r->nrounds == 0) {
			if (run->sweep)
				fprintf(out, "%-28s %9zu  %s: %s\n", r->c->name, r->size,
				        r->status == BENCH_SKIPPED ? "skipped" : "failed", r->why);
			else
				fprintf(out, "%-27s  %s: %s\n", r->c->name,
				        r->status == BENCH_SKIPPED ? "skipped" : "failed", r->why);
			continue;
		}
		fmt_time(a, sizeof(a), r->med.p50);
		fmt_time(b, sizeof(b), r->med.p99);
		fmt_time(c, sizeof(c), r->med.mean);
		fmt_range(d, sizeof(d), r->lo, r->hi);
		if (run->sweep) {
			fprintf(out, "%-28s %9zu %10s %10s %10s  %s\n", r->c->name, r->size, a, b,
			        c, d);
			continue;
		}
		fmt_rate(e, sizeof(e), r->med.msgs, "");
		if (isnan(r->med.gbs))
			snprintf(f, sizeof(f), "-");
		else
			snprintf(f, sizeof(f), "%.2f", r->med.gbs);
		fmt_ratio(g, sizeof(g), r->x_floor, short_floor(r->c->floor));
		fmt_ratio(h, sizeof(h), r->x_best, r->best ? r->best : "");
		fprintf(out, "%-27s %9s %9s %9s  %-21s %10s %7s  %-18s %s\n", r->c->name, a, b, c,
		        d, e, f, g, h);
	}
	if (!run->sweep)
		fprintf(out, "# min-max: over rounds, of p50 for round trips and of the mean for "
		             "operations and streams;\n"
		             "# x floor, x best: that same figure divided by the floor's and by "
		             "the best "
		             "non-ipcx case's for the same job (lower is better)\n");
}

static void num(FILE *out, double v, const char *fmt)
{
	if (!isnan(v))
		fprintf(out, fmt, v);
}

static void csv(const struct bench_run *run, FILE *out)
{
	fprintf(out, run->sweep ? "case,size,p50_ns,p99_ns,mean_ns\n"
	                        : "case,p50_ns,p99_ns,mean_ns,msgs_per_s,gb_per_s\n");
	for (int i = 0; i < run->n; i++) {
		const struct bench_row *r = &run->rows[i];
		bool ok = r->status == BENCH_OK && r->nrounds > 0;
		fprintf(out, "%s,", r->c->name);
		if (run->sweep)
			fprintf(out, "%zu,", r->size);
		if (ok)
			num(out, r->med.p50, "%.1f");
		fputc(',', out);
		if (ok)
			num(out, r->med.p99, "%.1f");
		fputc(',', out);
		if (ok)
			num(out, r->med.mean, "%.1f");
		if (!run->sweep) {
			fputc(',', out);
			if (ok)
				num(out, r->med.msgs, "%.0f");
			fputc(',', out);
			if (ok)
				num(out, r->med.gbs, "%.3f");
		}
		fputc('\n', out);
	}
}

static void jstr(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void jnum(FILE *out, const char *key, double v, bool comma)
{
	fprintf(out, "\"%s\": ", key);
	if (isnan(v))
		fprintf(out, "null");
	else
		fprintf(out, "%.6g", v);
	if (comma)
		fprintf(out, ", ");
}

static void json(const struct bench_run *run, FILE *out)
{
	static const char *status[] = {"ok", "skipped", "failed"};
	char m[512];
	machine(m, sizeof(m));
	fprintf(out, "{\n  \"machine\": ");
	jstr(out, m);
	fprintf(out, ",\n  \"clock\": ");
	jstr(out, bench_clock_name());
	fprintf(out, ",\n  \"clock_overhead_ns\": %.2f,\n  \"rounds\": %d,\n",
	        bench_clock_overhead_ns(), run->nrounds);
	fprintf(out, "  \"budget_ms\": %.0f,\n  \"sweep\": %s,\n  \"cases\": [\n", run->budget_ms,
	        run->sweep ? "true" : "false");
	for (int i = 0; i < run->n; i++) {
		const struct bench_row *r = &run->rows[i];
		bool ok = r->status == BENCH_OK && r->nrounds > 0;
		fprintf(out, "    {\"case\": ");
		jstr(out, r->c->name);
		fprintf(out, ", \"size\": %zu, \"status\": \"%s\", ", r->size,
		        ok ? "ok" : status[r->status == BENCH_OK ? BENCH_FAILED : r->status]);
		if (!ok) {
			fprintf(out, "\"reason\": ");
			jstr(out, r->why);
			fprintf(out, "}%s\n", i + 1 < run->n ? "," : "");
			continue;
		}
		jnum(out, "p50_ns", r->med.p50, true);
		jnum(out, "p99_ns", r->med.p99, true);
		jnum(out, "mean_ns", r->med.mean, true);
		jnum(out, "msgs_per_s", r->med.msgs, true);
		jnum(out, "gb_per_s", r->med.gbs, true);
		jnum(out, "min", r->lo, true);
		jnum(out, "max", r->hi, true);
		fprintf(out, "\"failed_rounds\": %d, ", r->nfailed);
		fprintf(out, "\"floor\": ");
		if (r->c->floor)
			jstr(out, r->c->floor);
		else
			fprintf(out, "null");
		fprintf(out, ", ");
		jnum(out, "x_floor", r->x_floor, true);
		fprintf(out, "\"best\": ");
		if (r->best)
			jstr(out, r->best);
		else
			fprintf(out, "null");
		fprintf(out, ", ");
		jnum(out, "x_best", r->x_best, true);
		fprintf(out, "\"rounds\": [");
		for (int k = 0; k < r->nrounds; k++) {
			const struct bench_fig *f = &r->rounds[k];
			fprintf(out, "%s{", k ? ", " : "");
			jnum(out, "p50_ns", f->p50, true);
			jnum(out, "p99_ns", f->p99, true);
			jnum(out, "mean_ns", f->mean, true);
			jnum(out, "msgs_per_s", f->msgs, true);
			jnum(out, "gb_per_s", f->gbs, false);
			fprintf(out, "}");
		}
		fprintf(out, "]}%s\n", i + 1 < run->n ? "," : "");
	}
	fprintf(out, "  ]\n}\n");
}

void bench_report(const struct bench_run *run, enum bench_format fmt, FILE *out)
{
	if (fmt == BENCH_CSV)
		csv(run, out);
	else if (fmt == BENCH_JSON)
		json(run, out);
	else
		table(run, out);
}

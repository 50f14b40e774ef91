/*
 * mpsafe/export.h: symbol visibility for the mpsafe libraries.
 *
 * The libraries are built with -fvisibility=hidden; every public function
 * and object carries MPSAFE_API so that only the names the API documents
 * are exported.  A program embedding the static library sees the same
 * names.  Not a primitive: included by every public header.
 */
#ifndef MPSAFE_EXPORT_H
#define MPSAFE_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define MPSAFE_API __attribute__((visibility("default")))
#define MPSAFE_LIKELY(x) __builtin_expect(!!(x), 1)
#define MPSAFE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MPSAFE_NORETURN __attribute__((noreturn))
#define MPSAFE_COLD __attribute__((cold))
#define MPSAFE_PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define MPSAFE_API
#define MPSAFE_LIKELY(x) (x)
#define MPSAFE_UNLIKELY(x) (x)
#define MPSAFE_NORETURN
#define MPSAFE_COLD
#define MPSAFE_PRINTFLIKE(f, a)
#endif

#ifdef __cplusplus
#define MPSAFE_BEGIN_DECLS extern "C" {
#define MPSAFE_END_DECLS }
#else
#define MPSAFE_BEGIN_DECLS
#define MPSAFE_END_DECLS
#endif

#endif /* MPSAFE_EXPORT_H */

/* bad_undocumented.h - every public function needs a doc block. */
#include <stdint.h>

int32_t eps_bad_no_comment(int32_t a);

/* A plain comment is not a doc block. */
int32_t eps_bad_plain_comment(int32_t a);

/// A line comment is not a doc block either.
int32_t eps_bad_line_comment(int32_t a);

/** This one is fine. */
int32_t eps_documented(int32_t a);

/** */
int32_t eps_bad_empty_doc(int32_t a);

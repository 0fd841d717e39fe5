/* bad_struct_param.h - structs, unions and enums in prototypes. */
#include <stdint.h>

struct eps_thing {
	int32_t a;
};
union eps_either {
	int32_t a;
	uint32_t b;
};
enum eps_kind { EPS_KIND_A = 1 };

/** A struct by pointer. */
int32_t eps_bad_struct_pointer(struct eps_thing *thing);

/** A struct by value. */
int32_t eps_bad_struct_value(struct eps_thing thing);

/** A union returned. */
union eps_either eps_bad_union_return(void);

/** An enum parameter. */
int32_t eps_bad_enum(enum eps_kind kind);

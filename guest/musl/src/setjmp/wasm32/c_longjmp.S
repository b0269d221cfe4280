# The exception tag thrown by longjmp (tag index 1 of
# __builtin_wasm_throw); one i32 payload: pointer to {env, val}.
	.tagtype __c_longjmp i32
	.globl __c_longjmp
	.hidden __c_longjmp
__c_longjmp:

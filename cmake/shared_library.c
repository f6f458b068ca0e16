/* libbanyan.so has no code of its own: every object comes whole from the `banyan` archive
 * (linked with WHOLE_ARCHIVE), so the shared library and the unit tests run the same
 * objects. CMake needs one source file per library; this is it. */
typedef int bn__shared_library_has_no_code_of_its_own;

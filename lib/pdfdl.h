/*
 * HarfBuzz, HarfBuzz's subsetter and libharu, loaded when the first PDF needs them rather than
 * when the process starts.
 *
 * Only PDF output uses them (font.c for metrics, shaping and subsets, pdf.c for the file), but
 * linked, they and what they link (glib, pcre2, graphite2, freetype, brotli) are loaded and
 * relocated by every process that links liboctavo: 2.7 ms of each start (an empty program linked
 * with them: 2.7 -> 5.4 ms; `octavo --version` 6.5 -> 4.0 ms without them, a warm EPUB book of 60
 * posts 30.0 -> 27.5 ms). So the library links none of them: font.c and pdf.c include this header
 * instead of the libraries' own, and each function they call is a pointer filled in with dlopen
 * by pdfdl.c, each library when first needed: HarfBuzz by the layout's fonts (ov_fonts_get), the
 * subsetter when a font subset is not in the cache (never on a warm run), libharu when the file is
 * written. A PDF costs the same as when they were linked (a blog post: 12.0 ms before and after).
 *
 * They are loaded inline, not on a thread of their own while the document is parsed (as epub.c
 * loads libzip): tried, a blog post went from 12.7 to 14.1-14.7 ms. Its parse takes ~0.3 ms of
 * the loading's ~3, and the loader's mmap and mprotect calls, while the main thread runs on the
 * other core, cost that thread more than it gained (TLB shootdowns: pvm_flush_tlb_multi in the
 * profile; twice the CPU time); a 60-post book, whose parse hid the loading entirely, was no
 * faster either (~107 ms, within the noise).
 *
 * The calls keep their names and their types: each pointer is declared with __typeof__ of the
 * function the library's header declares, and the name is then defined as the pointer, so the
 * compiler checks every call as before, and a function used without being listed here fails to
 * link (the library links no HarfBuzz or libharu).
 *
 * A library's loader must have succeeded before any of its functions below is called. Each is
 * cheap after its first call, thread-safe, and reports a missing or unusable library as an
 * OCTAVO_E_PDF error naming the Debian package to install.
 */
#ifndef OV_PDFDL_H
#define OV_PDFDL_H

#include <hb-ot.h>
#include <hb-subset.h>
#include <hb.h>
#include <hpdf.h>
#include <hpdf_conf.h>
#include <hpdf_doc.h>
#include <hpdf_objects.h>
#include <hpdf_pages.h>
#include <hpdf_streams.h>

#include "internal.h"

/** Loads the three libraries, each once per process: OCTAVO_OK, or OCTAVO_E_PDF (stage PDF)
 * naming the library that could not be loaded and its package. */
int ov_pdf_load(octavo_error *err);
/** The same for one library: HarfBuzz (the layout's fonts: ov_fonts_get), the subsetter with
 * HarfBuzz (ov_font_make_subset, when a subset is not in the cache), libharu (the writer). */
int ov_pdf_load_hb(octavo_error *err);
int ov_pdf_load_hb_subset(octavo_error *err);
int ov_pdf_load_hpdf(octavo_error *err);

/* The functions used, by library (libharfbuzz.so.0, libharfbuzz-subset.so.0, libhpdf-2.3.0.so). */
#define OV_HB_FUNCS(X)                    \
    X(hb_blob_create_from_file)           \
    X(hb_blob_destroy)                    \
    X(hb_blob_get_data)                   \
    X(hb_blob_get_length)                 \
    X(hb_buffer_add_utf32)                \
    X(hb_buffer_allocation_successful)    \
    X(hb_buffer_clear_contents)           \
    X(hb_buffer_create)                   \
    X(hb_buffer_destroy)                  \
    X(hb_buffer_get_glyph_infos)          \
    X(hb_buffer_get_glyph_positions)      \
    X(hb_buffer_get_segment_properties)   \
    X(hb_buffer_guess_segment_properties) \
    X(hb_buffer_set_cluster_level)        \
    X(hb_buffer_set_direction)            \
    X(hb_face_create)                     \
    X(hb_face_create_for_tables)          \
    X(hb_face_destroy)                    \
    X(hb_face_get_table_tags)             \
    X(hb_face_get_upem)                   \
    X(hb_face_reference_blob)             \
    X(hb_face_reference_table)            \
    X(hb_face_set_upem)                   \
    X(hb_feature_from_string)             \
    X(hb_font_create)                     \
    X(hb_font_get_glyph_extents)          \
    X(hb_font_get_glyph_h_advance)        \
    X(hb_font_get_nominal_glyph)          \
    X(hb_font_make_immutable)             \
    X(hb_font_set_scale)                  \
    X(hb_map_get)                         \
    X(hb_ot_metrics_get_position)         \
    X(hb_ot_name_get_utf8)                \
    X(hb_set_add)                         \
    X(hb_shape_plan_create_cached2)       \
    X(hb_shape_plan_destroy)              \
    X(hb_shape_plan_execute)              \
    X(hb_tag_from_string)                 \
    X(hb_version_string)

#define OV_HB_SUBSET_FUNCS(X)                  \
    X(hb_subset_input_create_or_fail)          \
    X(hb_subset_input_destroy)                 \
    X(hb_subset_input_set)                     \
    X(hb_subset_input_set_flags)               \
    X(hb_subset_input_unicode_set)             \
    X(hb_subset_plan_create_or_fail)           \
    X(hb_subset_plan_destroy)                  \
    X(hb_subset_plan_execute_or_fail)          \
    X(hb_subset_plan_old_to_new_glyph_mapping)

#define OV_HPDF_FUNCS(X)             \
    X(HPDF_AddPage)                  \
    X(HPDF_AddPageLabel)             \
    X(HPDF_Array_Add)                \
    X(HPDF_Array_AddName)            \
    X(HPDF_Array_AddNumber)          \
    X(HPDF_Array_AddReal)            \
    X(HPDF_Array_Clear)              \
    X(HPDF_Array_New)                \
    X(HPDF_Binary_New)               \
    X(HPDF_Boolean_New)              \
    X(HPDF_CallbackWriter_New)       \
    X(HPDF_CreateOutline)            \
    X(HPDF_DictStream_New)           \
    X(HPDF_Dict_Add)                 \
    X(HPDF_Dict_AddName)             \
    X(HPDF_Dict_AddNumber)           \
    X(HPDF_Dict_AddReal)             \
    X(HPDF_Dict_GetItem)             \
    X(HPDF_Dict_New)                 \
    X(HPDF_Free)                     \
    X(HPDF_GetMem)                   \
    X(HPDF_LinkAnnot_SetBorderStyle) \
    X(HPDF_New)                      \
    X(HPDF_Null_New)                 \
    X(HPDF_Outline_SetDestination)   \
    X(HPDF_Outline_SetOpened)        \
    X(HPDF_Page_CreateDestination)   \
    X(HPDF_Page_CreateLinkAnnot)     \
    X(HPDF_Page_CreateURILinkAnnot)  \
    X(HPDF_Page_GetLocalFontName)    \
    X(HPDF_Page_GetXObjectName)      \
    X(HPDF_Page_SetHeight)           \
    X(HPDF_Page_SetWidth)            \
    X(HPDF_ResetError)               \
    X(HPDF_SaveToStream)             \
    X(HPDF_SetCompressionMode)       \
    X(HPDF_SetError)                 \
    X(HPDF_SetInfoAttr)              \
    X(HPDF_SetInfoDateAttr)          \
    X(HPDF_SetPageMode)              \
    X(HPDF_Stream_Free)              \
    X(HPDF_Stream_WriteStr)          \
    X(HPDF_String_New)               \
    X(HPDF_Xref_Add)

#define OV_PDFDL_EXTERN(name) extern __typeof__(name) *ov_p_##name;
OV_HB_FUNCS(OV_PDFDL_EXTERN)
OV_HB_SUBSET_FUNCS(OV_PDFDL_EXTERN)
OV_HPDF_FUNCS(OV_PDFDL_EXTERN)
#undef OV_PDFDL_EXTERN

/* every call from here on goes through the pointer */
#define hb_blob_create_from_file (*ov_p_hb_blob_create_from_file)
#define hb_blob_destroy (*ov_p_hb_blob_destroy)
#define hb_blob_get_data (*ov_p_hb_blob_get_data)
#define hb_blob_get_length (*ov_p_hb_blob_get_length)
#define hb_buffer_add_utf32 (*ov_p_hb_buffer_add_utf32)
#define hb_buffer_allocation_successful (*ov_p_hb_buffer_allocation_successful)
#define hb_buffer_clear_contents (*ov_p_hb_buffer_clear_contents)
#define hb_buffer_create (*ov_p_hb_buffer_create)
#define hb_buffer_destroy (*ov_p_hb_buffer_destroy)
#define hb_buffer_get_glyph_infos (*ov_p_hb_buffer_get_glyph_infos)
#define hb_buffer_get_glyph_positions (*ov_p_hb_buffer_get_glyph_positions)
#define hb_buffer_get_segment_properties (*ov_p_hb_buffer_get_segment_properties)
#define hb_buffer_guess_segment_properties (*ov_p_hb_buffer_guess_segment_properties)
#define hb_buffer_set_cluster_level (*ov_p_hb_buffer_set_cluster_level)
#define hb_buffer_set_direction (*ov_p_hb_buffer_set_direction)
#define hb_face_create (*ov_p_hb_face_create)
#define hb_face_create_for_tables (*ov_p_hb_face_create_for_tables)
#define hb_face_destroy (*ov_p_hb_face_destroy)
#define hb_face_get_table_tags (*ov_p_hb_face_get_table_tags)
#define hb_face_get_upem (*ov_p_hb_face_get_upem)
#define hb_face_reference_blob (*ov_p_hb_face_reference_blob)
#define hb_face_reference_table (*ov_p_hb_face_reference_table)
#define hb_face_set_upem (*ov_p_hb_face_set_upem)
#define hb_feature_from_string (*ov_p_hb_feature_from_string)
#define hb_font_create (*ov_p_hb_font_create)
#define hb_font_get_glyph_extents (*ov_p_hb_font_get_glyph_extents)
#define hb_font_get_glyph_h_advance (*ov_p_hb_font_get_glyph_h_advance)
#define hb_font_get_nominal_glyph (*ov_p_hb_font_get_nominal_glyph)
#define hb_font_make_immutable (*ov_p_hb_font_make_immutable)
#define hb_font_set_scale (*ov_p_hb_font_set_scale)
#define hb_map_get (*ov_p_hb_map_get)
#define hb_ot_metrics_get_position (*ov_p_hb_ot_metrics_get_position)
#define hb_ot_name_get_utf8 (*ov_p_hb_ot_name_get_utf8)
#define hb_set_add (*ov_p_hb_set_add)
#define hb_shape_plan_create_cached2 (*ov_p_hb_shape_plan_create_cached2)
#define hb_shape_plan_destroy (*ov_p_hb_shape_plan_destroy)
#define hb_shape_plan_execute (*ov_p_hb_shape_plan_execute)
#define hb_tag_from_string (*ov_p_hb_tag_from_string)
#define hb_version_string (*ov_p_hb_version_string)
#define hb_subset_input_create_or_fail (*ov_p_hb_subset_input_create_or_fail)
#define hb_subset_input_destroy (*ov_p_hb_subset_input_destroy)
#define hb_subset_input_set (*ov_p_hb_subset_input_set)
#define hb_subset_input_set_flags (*ov_p_hb_subset_input_set_flags)
#define hb_subset_input_unicode_set (*ov_p_hb_subset_input_unicode_set)
#define hb_subset_plan_create_or_fail (*ov_p_hb_subset_plan_create_or_fail)
#define hb_subset_plan_destroy (*ov_p_hb_subset_plan_destroy)
#define hb_subset_plan_execute_or_fail (*ov_p_hb_subset_plan_execute_or_fail)
#define hb_subset_plan_old_to_new_glyph_mapping (*ov_p_hb_subset_plan_old_to_new_glyph_mapping)
#define HPDF_AddPage (*ov_p_HPDF_AddPage)
#define HPDF_AddPageLabel (*ov_p_HPDF_AddPageLabel)
#define HPDF_Array_Add (*ov_p_HPDF_Array_Add)
#define HPDF_Array_AddName (*ov_p_HPDF_Array_AddName)
#define HPDF_Array_AddNumber (*ov_p_HPDF_Array_AddNumber)
#define HPDF_Array_AddReal (*ov_p_HPDF_Array_AddReal)
#define HPDF_Array_Clear (*ov_p_HPDF_Array_Clear)
#define HPDF_Array_New (*ov_p_HPDF_Array_New)
#define HPDF_Binary_New (*ov_p_HPDF_Binary_New)
#define HPDF_Boolean_New (*ov_p_HPDF_Boolean_New)
#define HPDF_CallbackWriter_New (*ov_p_HPDF_CallbackWriter_New)
#define HPDF_CreateOutline (*ov_p_HPDF_CreateOutline)
#define HPDF_DictStream_New (*ov_p_HPDF_DictStream_New)
#define HPDF_Dict_Add (*ov_p_HPDF_Dict_Add)
#define HPDF_Dict_AddName (*ov_p_HPDF_Dict_AddName)
#define HPDF_Dict_AddNumber (*ov_p_HPDF_Dict_AddNumber)
#define HPDF_Dict_AddReal (*ov_p_HPDF_Dict_AddReal)
#define HPDF_Dict_GetItem (*ov_p_HPDF_Dict_GetItem)
#define HPDF_Dict_New (*ov_p_HPDF_Dict_New)
#define HPDF_Free (*ov_p_HPDF_Free)
#define HPDF_GetMem (*ov_p_HPDF_GetMem)
#define HPDF_LinkAnnot_SetBorderStyle (*ov_p_HPDF_LinkAnnot_SetBorderStyle)
#define HPDF_New (*ov_p_HPDF_New)
#define HPDF_Null_New (*ov_p_HPDF_Null_New)
#define HPDF_Outline_SetDestination (*ov_p_HPDF_Outline_SetDestination)
#define HPDF_Outline_SetOpened (*ov_p_HPDF_Outline_SetOpened)
#define HPDF_Page_CreateDestination (*ov_p_HPDF_Page_CreateDestination)
#define HPDF_Page_CreateLinkAnnot (*ov_p_HPDF_Page_CreateLinkAnnot)
#define HPDF_Page_CreateURILinkAnnot (*ov_p_HPDF_Page_CreateURILinkAnnot)
#define HPDF_Page_GetLocalFontName (*ov_p_HPDF_Page_GetLocalFontName)
#define HPDF_Page_GetXObjectName (*ov_p_HPDF_Page_GetXObjectName)
#define HPDF_Page_SetHeight (*ov_p_HPDF_Page_SetHeight)
#define HPDF_Page_SetWidth (*ov_p_HPDF_Page_SetWidth)
#define HPDF_ResetError (*ov_p_HPDF_ResetError)
#define HPDF_SaveToStream (*ov_p_HPDF_SaveToStream)
#define HPDF_SetCompressionMode (*ov_p_HPDF_SetCompressionMode)
#define HPDF_SetError (*ov_p_HPDF_SetError)
#define HPDF_SetInfoAttr (*ov_p_HPDF_SetInfoAttr)
#define HPDF_SetInfoDateAttr (*ov_p_HPDF_SetInfoDateAttr)
#define HPDF_SetPageMode (*ov_p_HPDF_SetPageMode)
#define HPDF_Stream_Free (*ov_p_HPDF_Stream_Free)
#define HPDF_Stream_WriteStr (*ov_p_HPDF_Stream_WriteStr)
#define HPDF_String_New (*ov_p_HPDF_String_New)
#define HPDF_Xref_Add (*ov_p_HPDF_Xref_Add)

#endif

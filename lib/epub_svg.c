/*
 * SVG images made fit for an EPUB: what drawing tools write is valid SVG for a browser, but
 * epubcheck also wants no DOCTYPE with external identifiers (OPF-073) nor entity declarations
 * (HTM-003), only SVG attributes on SVG elements (draw.io puts its whole diagram in a "content"
 * attribute), no remote resources (RSC-006), and hyperlinks with titles (ACC-011). Links and
 * scripts mean nothing in an image a chapter shows with <img>, so they go.
 *
 * The file is parsed without network, DTD loading or entity substitution; a file declaring an
 * external entity is refused (it could pull in local files), internal entities are expanded by a
 * second parse. The tree is cleaned and written back as UTF-8.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "epub.h"

#define SVG_NS "http://www.w3.org/2000/svg"
#define XLINK_NS "http://www.w3.org/1999/xlink"

static int is_remote_ref(const xmlChar *v) {
    const char *s = (const char *)v;
    while (*s == ' ' || *s == '\t' || *s == '\n') s++;
    return !strncasecmp(s, "http:", 5) || !strncasecmp(s, "https:", 6) || !strncmp(s, "//", 2) ||
           !strncasecmp(s, "ftp:", 4) || !strncasecmp(s, "file:", 5);
}

static int in_svg(xmlNodePtr n) { return n->ns && n->ns->href && !strcmp((const char *)n->ns->href, SVG_NS); }

static void clean(xmlNodePtr n) {
    xmlNodePtr next;
    for (; n; n = next) {
        next = n->next;
        if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
            continue;
        }
        if (n->type != XML_ELEMENT_NODE) continue;
        const char *name = (const char *)n->name;
        if (in_svg(n) && (!strcmp(name, "script") || !strcmp(name, "metadata"))) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
            continue;
        }
        int was_link = in_svg(n) && !strcmp(name, "a");
        if (was_link) {
            xmlNodeSetName(n, (const xmlChar *)"g");
            name = (const char *)n->name;
        }
        xmlAttrPtr an;
        for (xmlAttrPtr a = n->properties; a; a = an) {
            an = a->next;
            const char *at = (const char *)a->name;
            int drop = 0;
            xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
            if (!a->ns) {
                drop = (at[0] == 'o' && at[1] == 'n') || (in_svg(n) && !strcmp(at, "content"));
                if (was_link && (!strcmp(at, "href") || !strcmp(at, "target"))) drop = 1;
                if (!strcmp(at, "href") && v && is_remote_ref(v)) drop = 1;
                if (!strcmp(at, "style") && v && strstr((const char *)v, "url(") &&
                    (strstr((const char *)v, "http:") || strstr((const char *)v, "https:")))
                    drop = 1;
            } else if (a->ns->href && !strcmp((const char *)a->ns->href, XLINK_NS)) {
                if (was_link) drop = 1; /* a former link: its xlink:href, title, show */
                else if (!strcmp(at, "href") && v && is_remote_ref(v)) drop = 1;
            }
            xmlFree(v);
            if (drop) xmlRemoveProp(a);
        }
        /* a <style> that imports or loads from the network */
        if (in_svg(n) && !strcmp(name, "style")) {
            xmlChar *css = xmlNodeGetContent(n);
            int remote = css && (strstr((const char *)css, "@import") ||
                                 (strstr((const char *)css, "url(") && (strstr((const char *)css, "http:") ||
                                                                         strstr((const char *)css, "https:"))));
            xmlFree(css);
            if (remote) {
                xmlUnlinkNode(n);
                xmlFreeNode(n);
                continue;
            }
        }
        clean(n->children);
    }
}

/* Whether the internal subset declares entities, and whether any is external. */
static void scan_entities(xmlDocPtr d, int *any, int *external) {
    *any = *external = 0;
    if (!d->intSubset) return;
    for (xmlNodePtr n = d->intSubset->children; n; n = n->next) {
        if (n->type != XML_ENTITY_DECL) continue;
        xmlEntityPtr e = (xmlEntityPtr)n;
        *any = 1;
        if (e->etype != XML_INTERNAL_GENERAL_ENTITY && e->etype != XML_INTERNAL_PREDEFINED_ENTITY) *external = 1;
    }
}

int ov_epub_svg_clean(const void *data, size_t len, unsigned char **out, size_t *out_len, char *why, size_t why_size) {
    *out = NULL;
    *out_len = 0;
    if (len > INT32_MAX) { snprintf(why, why_size, "SVG too large"); return OCTAVO_E_IMAGE; }
    const int opts = XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR;
    xmlDocPtr d = xmlReadMemory(data, (int)len, "image.svg", NULL, opts);
    if (!d) { snprintf(why, why_size, "not well-formed SVG"); return OCTAVO_E_IMAGE; }
    int any, external;
    scan_entities(d, &any, &external);
    if (external) {
        xmlFreeDoc(d);
        snprintf(why, why_size, "SVG declares external entities; left out");
        return OCTAVO_E_IMAGE;
    }
    if (any) {
        xmlFreeDoc(d);
        d = xmlReadMemory(data, (int)len, "image.svg", NULL, opts | XML_PARSE_NOENT);
        if (!d) { snprintf(why, why_size, "not well-formed SVG"); return OCTAVO_E_IMAGE; }
    }
    xmlNodePtr root = xmlDocGetRootElement(d);
    if (!root || strcmp((const char *)root->name, "svg") || !in_svg(root)) {
        xmlFreeDoc(d);
        snprintf(why, why_size, "not an SVG document");
        return OCTAVO_E_IMAGE;
    }
    if (d->intSubset) {
        xmlDtdPtr dtd = d->intSubset;
        xmlUnlinkNode((xmlNodePtr)dtd);
        d->intSubset = NULL;
        if (d->extSubset == dtd) d->extSubset = NULL;
        xmlFreeDtd(dtd);
    }
    if (d->extSubset) {
        xmlDtdPtr dtd = d->extSubset;
        xmlUnlinkNode((xmlNodePtr)dtd);
        d->extSubset = NULL;
        xmlFreeDtd(dtd);
    }
    /* comments and processing instructions around the root */
    xmlNodePtr next;
    for (xmlNodePtr n = d->children; n; n = next) {
        next = n->next;
        if (n != root) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
    }
    clean(root->children);
    /* the root's own attributes */
    xmlNodePtr saved = root->children;
    root->children = NULL;
    xmlNodePtr last = root->last;
    root->last = NULL;
    clean(root); /* only its attributes: it has no children now, and no siblings */
    root->children = saved;
    root->last = last;
    xmlChar *mem = NULL;
    int size = 0;
    xmlDocDumpMemoryEnc(d, &mem, &size, "UTF-8");
    xmlFreeDoc(d);
    if (!mem || size <= 0) {
        xmlFree(mem);
        snprintf(why, why_size, "out of memory");
        return OCTAVO_E_NOMEM;
    }
    *out = ov_malloc((size_t)size);
    if (*out) {
        memcpy(*out, mem, (size_t)size);
        *out_len = (size_t)size;
    }
    xmlFree(mem);
    if (!*out) { snprintf(why, why_size, "out of memory"); return OCTAVO_E_NOMEM; }
    return OCTAVO_OK;
}

#!/usr/bin/env python3
"""abi_members.py BASELINE.abi NEW.abi

Part of check-abi.sh: the member-by-member check that abidiff's suppression
cannot make. abi.suppr lets tail growth of sy_* structs through, but
libabigail applies `has_data_member_inserted_at = end` to any change of such
a struct that deletes no member, so it would also hide an existing member
changing type in place (uint32_t -> int32_t, a wider type that fits the
padding, a callback's signature). Here, with both ABI dumps as abidw wrote
them, every struct and union of the baseline must still be in the new one
with each of its members at the same offset, under the same name, of the
same type (spelled out through typedefs, pointers, qualifiers, arrays and
function types; a pointed-to or embedded struct counts by name, since it is
checked on its own). New members may only follow the old last one, after
the old size; the size may only grow. Prints what differs, exit 1 if
anything does.
"""
import sys
import xml.etree.ElementTree as ET

TYPE_TAGS = {'type-decl', 'typedef-decl', 'pointer-type-def', 'qualified-type-def', 'array-type-def',
             'function-type', 'class-decl', 'union-decl', 'enum-decl', 'reference-type-def'}


def load(path):
    """type id -> element, preferring complete definitions to declarations."""
    types = {}
    for el in ET.parse(path).getroot().iter():
        if el.tag not in TYPE_TAGS or 'id' not in el.attrib:
            continue
        old = types.get(el.get('id'))
        if old is None or (old.get('is-declaration-only') == 'yes' and el.get('is-declaration-only') != 'yes'):
            types[el.get('id')] = el
    return types


def spell(types, tid, depth=0):
    """The type as text, deep enough that any change of it changes the text."""
    if depth > 40:
        return '...'
    el = types.get(tid)
    if el is None:
        return '<%s?>' % tid
    tag = el.tag
    sub = lambda t: spell(types, t, depth + 1)
    if tag == 'type-decl':
        return '%s:%s' % (el.get('name'), el.get('size-in-bits', '?'))
    if tag == 'typedef-decl':
        return '%s=(%s)' % (el.get('name'), sub(el.get('type-id')))
    if tag == 'pointer-type-def':
        return '%s*' % sub(el.get('type-id'))
    if tag == 'reference-type-def':
        return '%s&' % sub(el.get('type-id'))
    if tag == 'qualified-type-def':
        quals = [q for q in ('const', 'volatile', 'restrict') if el.get(q) == 'yes']
        return '%s %s' % (' '.join(quals), sub(el.get('type-id')))
    if tag == 'array-type-def':
        dims = ''.join('[%s]' % s.get('length', '?') for s in el.findall('subrange'))
        return '%s%s' % (sub(el.get('element-type-id')), dims)
    if tag == 'function-type':
        params = []
        for p in el.findall('parameter'):
            params.append('...' if p.get('is-variadic') == 'yes' else sub(p.get('type-id')))
        ret = el.find('return')
        return '%s(%s)' % (sub(ret.get('type-id')) if ret is not None else '?', ', '.join(params))
    if tag == 'enum-decl':
        return 'enum %s' % el.get('name')
    if tag in ('class-decl', 'union-decl'):
        kind = 'union' if tag == 'union-decl' else 'struct'
        if el.get('is-anonymous') == 'yes':  # no name to check it by: spell its layout here
            return '%s{%s}' % (kind, '; '.join('%s@%s %s' % (n, o, sub(t)) for n, o, t in members(el)))
        return '%s %s' % (kind, el.get('name'))
    return '<%s>' % tag


def members(el):
    out = []
    for dm in el.findall('data-member'):
        vd = dm.find('var-decl')
        if vd is not None:
            out.append((vd.get('name'), int(dm.get('layout-offset-in-bits', '0')), vd.get('type-id')))
    return out


def aggregates(types):
    """name -> complete named struct/union definition."""
    out = {}
    for el in types.values():
        if el.tag in ('class-decl', 'union-decl') and el.get('is-declaration-only') != 'yes' \
                and el.get('is-anonymous') != 'yes' and el.get('name'):
            out.setdefault(el.get('name'), el)
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    old_types, new_types = load(sys.argv[1]), load(sys.argv[2])
    old_aggr, new_aggr = aggregates(old_types), aggregates(new_types)
    problems = []
    for name in sorted(old_aggr):
        o = old_aggr[name]
        n = new_aggr.get(name)
        if n is None:
            problems.append('%s: gone from the ABI (removed, made opaque, or no longer reached '
                            'from an exported function)' % name)
            continue
        osize, nsize = int(o.get('size-in-bits', '0')), int(n.get('size-in-bits', '0'))
        om, nm = members(o), members(n)
        old_names = {m[0] for m in om}
        new_by_name = {m[0]: m for m in nm}
        renamed = set()
        mine = []
        if nsize < osize:
            mine.append('size shrank from %d to %d bytes' % (osize // 8, nsize // 8))
        for mname, moff, mtype in om:
            ospell = spell(old_types, mtype)
            if mname in new_by_name:
                _, noff, ntype = new_by_name[mname]
            else:
                same_place = [m for m in nm if m[0] not in old_names and m[1] == moff and m[0] not in renamed]
                if not same_place:
                    mine.append('member %s (offset %d) removed' % (mname, moff // 8))
                    continue
                nname, noff, ntype = same_place[0]
                renamed.add(nname)
                mine.append('member %s renamed to %s (same place: the layout holds, but sources and the '
                            'bindings break)' % (mname, nname))
            if noff != moff:
                mine.append('member %s moved from offset %d to %d' % (mname, moff // 8, noff // 8))
            nspell = spell(new_types, ntype)
            if nspell != ospell:
                mine.append('member %s changed type:\n        was %s\n        now %s' % (mname, ospell, nspell))
        for nname, noff, _ in nm:
            if nname in old_names or nname in renamed:
                continue
            if noff < osize:
                mine.append('new member %s at offset %d, inside the old size of %d bytes: callers built '
                            'against the baseline pass struct_size = %d, so the library could not tell '
                            'it from their padding; new members go at or after offset %d'
                            % (nname, noff // 8, osize // 8, osize // 8, osize // 8))
        if mine:
            problems.append('%s:\n    %s' % (name, '\n    '.join(mine)))
    if problems:
        print('abi_members: existing struct members changed (only appending members at the tail is allowed):')
        for p in problems:
            print('  ' + p)
        return 1
    grown = [nm for nm in sorted(old_aggr) if nm in new_aggr and
             int(new_aggr[nm].get('size-in-bits', '0')) > int(old_aggr[nm].get('size-in-bits', '0'))]
    print('abi_members: %d structs/unions of the baseline checked member by member: unchanged%s'
          % (len(old_aggr), (' except tail growth of ' + ', '.join(grown)) if grown else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())

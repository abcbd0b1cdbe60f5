package io.checkpointd.primary.engine.state;

import io.checkpointd.linux.proc.Vma;
import java.util.List;
import java.util.Map;

/**
 * What the last CRIU dump gave: the base every incremental epoch patches. Made by the base dump stage and replaced
 * whole by the next dump; the stop compares its structure, the image patching starts from its files.
 *
 * @param files          the dump's image files but the pages, by name
 * @param pagemapName    the pagemap incremental epochs rebuild ({@code pagemap-<pid>.img}), null when not incremental
 * @param pagesId        that pagemap's pages id
 * @param mmName         {@code mm-<pid>.img}
 * @param notIncremental why epochs cannot be incremental with this base (a process tree, shared memory), or null
 * @param structure      the process's structure at the dump
 * @param dumpMaps       the memory map at the dump: pagemap runs are cut at its VMA boundaries
 */
public record Base(Map<String, byte[]> files, String pagemapName, int pagesId, String mmName, String notIncremental,
                   Structure structure, List<Vma> dumpMaps) {
}

"""The kit's GNNs: GraphSAGE (notebooks 02-05, 07), LightGCN, the graph filter and the
neighbourhood rating GNN (notebook 06)."""

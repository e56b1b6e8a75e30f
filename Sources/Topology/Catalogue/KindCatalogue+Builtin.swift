extension KindCatalogue {
    /// The kinds agentic ships with.
    public static let builtin = KindCatalogue([
        KindDescriptor(
            name: "router", role: .router,
            description: "Segments users by history length (cold, light, heavy) and picks a pipeline.",
            parameters: [
                .int("cold_max_history", 0...50, default: 5, "Users with at most this many interactions are cold."),
                .int(
                    "light_max_history", 1...500, default: 30, "Users with at most this many are light; more is heavy."),
            ]),
        KindDescriptor(
            name: "recall.popularity", role: .recall,
            description: "Most popular items the user has not seen.",
            parameters: [recallK]),
        KindDescriptor(
            name: "recall.itemknn", role: .recall,
            description: "Item-based nearest neighbours over co-occurrence (cosine with shrinkage).",
            parameters: [
                recallK,
                .int("neighbours", 5...1682, default: 100, "Neighbours kept per item."),
                .double("shrinkage", 0...500, default: 10, "Shrinks similarities of rarely co-rated pairs."),
            ]),
        KindDescriptor(
            name: "recall.rp3beta", role: .recall,
            description: "Random walk user-item-item with popularity penalty (RP3beta).",
            parameters: [
                recallK,
                .double("alpha", 0...2, default: 1, "Exponent on transition probabilities."),
                .double("beta", 0...1, default: 0.5, "Popularity penalty exponent."),
            ]),
        KindDescriptor(
            name: "recall.ease", role: .recall,
            description: "EASE: closed-form shallow autoencoder over the item-item Gram matrix.",
            parameters: [
                recallK,
                .double("lambda", 1...10000, default: 300, "L2 regularisation of the item-item weights."),
            ]),
        KindDescriptor(
            name: "recall.content", role: .recall,
            description: "Items similar in genre and year to the user's history.",
            parameters: [
                recallK,
                .double("genre_weight", 0...1, default: 0.8, "Weight of genre similarity."),
                .double("year_weight", 0...1, default: 0.2, "Weight of release-year proximity."),
            ]),
        KindDescriptor(
            name: "recall.als", role: .recall,
            description: "Implicit matrix factorisation by alternating least squares.",
            parameters: [
                recallK,
                .int("factors", 8...256, default: 64, "Latent dimensions."),
                .double("reg", 0...1000, default: 0.1, "L2 regularisation."),
                .double("alpha", 0...100, default: 10, "Confidence scaling of observed interactions."),
                .int("iterations", 1...50, default: 15, "ALS sweeps."),
            ]),
        KindDescriptor(
            name: "recall.static", role: .recall,
            description: "Answers from a fixed item list; needs no data set (for examples and tests).",
            parameters: [
                ParameterSpec(
                    name: "k", type: .int, defaultValue: .int(100), min: 1, max: 1000,
                    description: "Candidates returned."),
                .string("items", default: "", "Comma-separated item ids; empty means the built-in list."),
            ]),
        KindDescriptor(
            name: "fusion", role: .fusion,
            description: "Merges candidate lists from the recall routes and calibrates their scores.",
            parameters: [
                .choice("method", ["zscore", "rank", "weighted"], default: "zscore", "How scores are combined."),
                ParameterSpec(
                    name: "weight.*", type: .double, defaultValue: .double(1), min: 0, max: 10,
                    suffixNamesPredecessor: true, description: "Weight of one route, `weight.<route agent>`."),
            ]),
        KindDescriptor(
            name: "rank.learned", role: .rank,
            description: "A learned ranker over user, item and route features.",
            parameters: [
                .int("k", 10...200, default: 50, "Items kept after ranking."),
                .double("l2", 0...10, default: 0.01, "L2 regularisation of the ranker."),
            ]),
        KindDescriptor(
            name: "rank.passthrough", role: .rank,
            description: "Keeps the fused order; truncates to k.",
            parameters: [.int("k", 1...1000, default: 50, "Items kept.")]),
        KindDescriptor(
            name: "rerank.mmr", role: .rerank,
            description: "Maximal marginal relevance: trades relevance for genre diversity, caps items per genre.",
            parameters: [
                .int("k", 1...100, default: 10, "Length of the final list."),
                .double("lambda", 0...1, default: 0.7, "1 = pure relevance, 0 = pure diversity."),
                .int("genre_cap", 0...10, default: 0, "Most items per genre; 0 = no cap."),
            ]),
        KindDescriptor(
            name: "store", role: .store,
            description: "The knowledge base: users, items, interactions, experiments (SQLite).",
            parameters: [
                .string("path", default: "", "The database file; empty: store.sqlite in the run directory."),
                .string("seed", default: "", "A MovieLens directory to seed users, items and ratings from, once."),
            ]),
    ])

    private static let recallK = ParameterSpec.int("k", 10...1000, default: 100, "Candidates returned.")
}

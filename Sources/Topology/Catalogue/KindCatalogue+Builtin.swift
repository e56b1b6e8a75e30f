extension KindCatalogue {
    /// The segments a `router` answers (`AgentOutput.segment`), from the least history to the
    /// most: the names an edge's `segments` may use.
    public static let routerSegments = ["cold", "light", "heavy"]

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
                trainingSnapshot,
                recallK,
                .int("neighbours", 5...1682, default: 100, "Neighbours kept per item."),
                .double("shrinkage", 0...500, default: 10, "Shrinks similarities of rarely co-rated pairs."),
                ratingExponent,
            ]),
        KindDescriptor(
            name: "recall.rp3beta", role: .recall,
            description: "Random walk user-item-item with popularity penalty (RP3beta).",
            parameters: [
                trainingSnapshot,
                recallK,
                .double("alpha", 0...2, default: 1, "Exponent on transition probabilities."),
                .double("beta", 0...1, default: 0.5, "Popularity penalty exponent."),
                .int("neighbours", 5...1682, default: 1682, "Neighbours kept per item."),
                ratingExponent,
            ]),
        KindDescriptor(
            name: "recall.ease", role: .recall,
            description: "EASE: closed-form shallow autoencoder over the item-item Gram matrix.",
            parameters: [
                trainingSnapshot,
                recallK,
                .double("lambda", 1...10000, default: 300, "L2 regularisation of the item-item weights."),
                .double("dropout", 0...4, default: 0, "Dropout emphasis p/(1-p): extra penalty per item popularity."),
                .bool("zero_diagonal", default: true, "Constrain the diagonal to zero (EASE); false is DLAE."),
                ratingExponent,
                .double("user_normalization", 0...1, default: 0, "Rows weighted by |history|^-x in the Gram matrix."),
            ]),
        KindDescriptor(
            name: "recall.content", role: .recall,
            description: "Items similar in genre and year to the user's history.",
            parameters: [
                trainingSnapshot,
                recallK,
                .double("genre_weight", 0...1, default: 0.8, "Weight of genre similarity."),
                .double("year_weight", 0...1, default: 0.2, "Weight of release-year proximity."),
                .double("title_weight", 0...1, default: 0.3, "Weight of shared title tokens."),
            ]),
        KindDescriptor(
            name: "recall.als", role: .recall,
            description: "Implicit matrix factorisation by alternating least squares.",
            parameters: [
                trainingSnapshot,
                recallK,
                .int("factors", 8...256, default: 64, "Latent dimensions."),
                .double("reg", 0.001...1000, default: 0.1, "L2 regularisation (positive: each solve needs it)."),
                .double("alpha", 0...100, default: 10, "Confidence scaling of observed interactions."),
                .int("iterations", 1...50, default: 15, "ALS sweeps."),
                ratingExponent,
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
            description:
                "Merges candidate lists from the recall routes and calibrates their scores; when every route that answered weighs 0, they weigh equally.",
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
                trainingSnapshot,
                .int("k", 10...200, default: 50, "Items kept after ranking."),
                .double("l2", 0...10, default: 0.01, "L2 regularisation per training user (boosted: ×100 on leaf values)."),
                .choice(
                    "model", ["linear", "boosted", "none"], default: "linear",
                    "Listwise linear model, boosted trees, or none (pass the fused order through, e.g. when validation finds no gain)."),
                .int("trees", 1...2000, default: 200, "Boosted trees: number of trees."),
                .int("depth", 1...8, default: 4, "Boosted trees: depth of each tree."),
                .double("learning_rate", 0.001...1, default: 0.05, "Boosted trees: shrinkage per tree."),
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
                .double(
                    "popularity_penalty", 0...2, default: 0,
                    "Relevance lost per unit of z-scored log popularity (raises coverage)."),
            ]),
        KindDescriptor(
            name: "trainer", role: .learner,
            description: "Refits the model agents from the store's feedback and swaps them in as a new epoch.",
            parameters: [
                .int("every_events", 1...10_000_000, default: 500, "Refit after this many new feedback events."),
                .double("interval_s", 0...86_400, default: 0, "Also refit on this schedule when any event arrived; 0: off."),
                .int("poll_ms", 50...60_000, default: 1000, "How often the store is read."),
                .string("agents", default: "", "Comma-separated agents to refit; empty: every agent that holds a model."),
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
    private static let ratingExponent = ParameterSpec.double(
        "rating_exponent", 0...3, default: 0, "Entries are (rating/5)^x; 0 is the binary matrix.")
    /// Set by the trainer when it refits a model agent on the store's feedback.
    private static let trainingSnapshot = ParameterSpec.string(
        "training_snapshot", default: "",
        "The training snapshot fitted on (the data's training split plus stored feedback, written by a trainer); empty: the training split alone.")
}
